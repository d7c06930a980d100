// The survey respondent's path on a phone, in Spanish, with only the keyboard where it
// matters, and the staff pages around a survey. Every page: no serious or critical axe-core
// violation and no console error.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, launch, newPage, seriousViolations, shoot, startDemo } from '../lib/harness.js';

let server;
let browser;

before(async () => {
  server = await startDemo();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function check(page, name) {
  const violations = await seriousViolations(page);
  await shoot(page, name);
  assert.deepEqual(violations, [], `${name}: axe found serious problems`);
  assert.deepEqual(page.problems.filter((p) => !/status of 4\d\d/.test(p)), [], `${name}: the browser reported problems`);
}

test('a resident answers the community survey on a phone, in Spanish', async () => {
  const page = await newPage(browser, PHONE, { locale: 'es-US' });
  await page.goto(`${server.base}/riverton`);
  assert.equal(await page.getAttribute('html', 'lang'), 'es');
  await page.getByRole('link', { name: /¿Cómo lo estamos haciendo\?/ }).first().click();
  await page.getByText('Paso 1 de 4').waitFor();
  await check(page, 'survey-es-step1');

  // Sending the page without the required answers: an error summary that links to them.
  await page.getByRole('button', { name: 'Siguiente' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /Hay un problema/);
  await check(page, 'survey-es-errors');
  await alert.getByRole('link').first().click();

  // Scale answers by keyboard: focus a point and press Space.
  const respect = page.getByRole('group', { name: /trata la policía/ });
  await respect.getByRole('radio', { name: '8', exact: true }).focus();
  await page.keyboard.press('Space');
  assert.equal(await respect.getByRole('radio', { name: '8', exact: true }).isChecked(), true);
  await page.getByRole('group', { name: /escucha la policía/ }).getByText('6', { exact: true }).click();
  await page.getByRole('button', { name: 'Siguiente' }).click();

  await page.getByText('Paso 2 de 4').waitFor();
  await check(page, 'survey-es-step2');
  await page.getByRole('group', { name: /oportunidad de explicar/ }).getByText('De acuerdo', { exact: true }).click();
  await page.getByRole('button', { name: 'Siguiente' }).click();

  await page.getByText('Paso 3 de 4').waitFor();
  await page.getByRole('group', { name: /últimos 12 meses/ }).getByText('Sí', { exact: true }).click();
  await page.getByRole('button', { name: 'Siguiente' }).click();
  // Saying yes brings the follow-up question onto the same page.
  await page.getByRole('group', { name: /qué tipo de contacto/i }).waitFor();
  await check(page, 'survey-es-step3-followup');
  await page.getByRole('group', { name: /qué tipo de contacto/i }).getByText('Llamé pidiendo ayuda').click();
  await page.getByLabel(/algo más que quiera/).fill('Más patrullas de noche, por favor.');
  await page.getByRole('button', { name: 'Siguiente' }).click();

  await page.getByText('Paso 4 de 4').waitFor();
  await check(page, 'survey-es-step4');
  await page.getByRole('group', { name: /cuántos años/i }).getByText('35 a 44').click();
  await page.getByRole('button', { name: 'Enviar mis respuestas' }).click();
  await page.getByRole('heading', { name: 'Gracias' }).waitFor();
  await check(page, 'survey-es-thanks');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `no sideways scrolling (${width}px)`);
  await page.context().close();
});

test('the printable flyer and the public results', async () => {
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${server.base}/riverton`);
  const link = await page.getByRole('link', { name: /Results: / }).first().getAttribute('href');
  await page.goto(`${server.base}${link}`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  await check(page, 'survey-public-results');
  const code = link.split('/')[3];
  await page.goto(`${server.base}/riverton/s/${code}/flyer`);
  await check(page, 'survey-flyer');
  await page.context().close();
});

test('staff pages around a survey', async () => {
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${server.base}/riverton/signin`);
  await page.getByLabel('Username').fill('analyst');
  await page.getByLabel('Password').fill('riverton-analyst-lantern');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/riverton/staff');
  await page.getByRole('navigation', { name: 'Staff' }).getByRole('link', { name: 'Surveys', exact: true }).click();
  await check(page, 'staff-surveys');
  await page.getByRole('link', { name: 'Community survey (ongoing)', exact: true }).click();
  await check(page, 'staff-survey-overview');
  const overview = page.url();
  for (const [name, shot] of [['Results', 'staff-survey-results'], ['Edit questions', 'staff-survey-edit'], ['Preview', 'staff-survey-preview']]) {
    await page.goto(overview);
    await page.getByRole('link', { name, exact: true }).click();
    await page.waitForLoadState();
    await check(page, shot);
  }
  // A breakdown, without script: choose and press Show.
  await page.goto(overview);
  await page.getByRole('link', { name: 'Results', exact: true }).click();
  await page.getByLabel('Break down by').selectOption({ label: 'Which district do you live in?' });
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('table', { name: /Trust by district/ }).waitFor();
  await check(page, 'staff-survey-results-by-district');
  // The staff survey: results only, small groups hidden.
  await page.goto(`${server.base}/riverton/staff/surveys`);
  await page.getByRole('link', { name: 'Staff survey, wave 2', exact: true }).click();
  await page.getByRole('link', { name: 'Results', exact: true }).click();
  await check(page, 'staff-employee-results');
  await page.context().close();
});
