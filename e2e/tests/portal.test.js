// The public portal as a resident meets it: the agency's home, the stops and survey topic
// pages (also filtered), the methodology, open data, about-the-data and annual-report pages,
// in English and Spanish, on a phone and a desktop. Every page must have no serious or
// critical axe-core violation, no console error, and on a phone no sideways scrolling. The
// filters must work from the keyboard alone, with the choice kept in the URL.

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

// (name, path after the agency and language, a heading the page must show in en and es)
const PAGES = [
  ['home', '', ['Riverton Police Department', 'Riverton Police Department']],
  ['stops', '/data/stops', ['Stops and searches', 'Paradas y registros']],
  ['stops-filtered', '/data/stops?year=2024&district=D2', ['Stops and searches', 'Paradas y registros']],
  ['surveys', '/data/surveys', ['Community survey results', 'Resultados de las encuestas a la comunidad']],
  ['methodology', '/methodology', ['How we compute our numbers', 'Cómo calculamos nuestras cifras']],
  ['open-data', '/open-data', ['Open data', 'Datos abiertos']],
  ['about-data', '/about-data', ['About our data', 'Sobre nuestros datos']],
  ['reports', '/report', ['Annual reports', 'Informes anuales']],
  ['report', '/report/2025', ['Annual report 2025', 'Informe anual 2025']],
];

async function check(page, name, viewport) {
  const violations = await seriousViolations(page);
  await shoot(page, name);
  assert.deepEqual(violations, [], `${name}: axe found serious problems`);
  assert.deepEqual(page.problems, [], `${name}: the browser reported problems`);
  if (viewport === PHONE) {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `${name}: no sideways scrolling on a phone (page is ${width}px wide)`);
  }
}

for (const [viewport, label] of [[PHONE, 'phone'], [DESKTOP, 'desktop']]) {
  for (const [lang, index] of [['en', 0], ['es', 1]]) {
    test(`every public portal page on a ${label} in ${lang}`, async () => {
      const page = await newPage(browser, viewport);
      for (const [name, path, headings] of PAGES) {
        const segment = lang === 'es' ? '/es' : '';
        const [base, query] = path.split('?');
        const url = `${server.base}/riverton${segment}${base}${query ? `?${query}` : ''}`;
        const response = await page.goto(url);
        assert.equal(response.status(), 200, `${url} answers`);
        assert.equal(await page.getAttribute('html', 'lang'), lang, `${url} is in ${lang}`);
        await page.getByRole('heading', { level: 1, name: headings[index] }).waitFor();
        // Every chart sits with a table holding its numbers.
        const charts = await page.locator('svg.chart').count();
        if (charts > 0) assert.ok(await page.locator('table').count() >= charts, `${url}: a table per chart`);
        await check(page, `portal-${name}-${lang}-${label}`, viewport);
      }
      await page.context().close();
    });
  }
}

test('the filters work from the keyboard alone, and the URL keeps the choice', async () => {
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${server.base}/riverton/data/stops`);
  const year = page.locator('#year');
  assert.equal(await year.inputValue(), '', 'all years to start with');
  // Tab from the top of the page to the year select.
  let focused = '';
  for (let i = 0; i < 40 && focused !== 'year'; i += 1) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.id || '');
  }
  assert.equal(focused, 'year', 'the year select is reached with Tab');
  // Change it with the keyboard: the next option is the newest year.
  await page.keyboard.press('ArrowDown');
  const chosen = await year.inputValue();
  assert.match(chosen, /^20\d\d$/, 'a year is chosen');
  // On to the Show button and submit with Enter.
  for (let i = 0; i < 5; i += 1) {
    await page.keyboard.press('Tab');
    const tag = await page.evaluate(() => document.activeElement?.tagName);
    if (tag === 'BUTTON') break;
  }
  assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Show');
  await Promise.all([page.waitForURL(new RegExp(`year=${chosen}`)), page.keyboard.press('Enter')]);
  assert.equal(await page.locator('#year').inputValue(), chosen, 'the page shows the chosen year');
  await page.getByRole('table', { name: /Share of stops with a search/ }).waitFor();
  // Back returns to all years.
  await page.goBack();
  await page.waitForURL((u) => !u.search.includes('year='));
  assert.equal(await page.locator('#year').inputValue(), '', 'back to all years');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
