// The web shell as people meet it: the public home in English and Spanish, on a desktop and
// on a phone; signing in as the demo admin through the real form; the staff home. Every page
// must have no serious or critical axe-core violation and no console error (a CSP violation
// would show up there).

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
  assert.deepEqual(page.problems, [], `${name}: the browser reported problems`);
}

test('the public home in English, on a desktop and on a phone', async () => {
  for (const [viewport, label] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
    const page = await newPage(browser, viewport);
    const response = await page.goto(`${server.base}/`);
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/riverton', 'one agency: the root leads to it');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.textContent('h1'), 'Riverton Police Department');
    await page.getByRole('heading', { name: 'What we publish' }).waitFor();
    await page.getByRole('table', { name: /Districts and their population/ }).waitFor();
    await check(page, `public-home-en-${label}`);
    if (label === 'phone') {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `no sideways scrolling on a phone (page is ${width}px wide)`);
    }
    await page.context().close();
  }
});

test('the public home in Spanish, through the language switch', async () => {
  const page = await newPage(browser, PHONE);
  await page.goto(`${server.base}/riverton`);
  await page.getByRole('link', { name: 'Español' }).click();
  await page.waitForURL('**/riverton/es');
  assert.equal(await page.getAttribute('html', 'lang'), 'es');
  await page.getByRole('heading', { name: 'Lo que publicamos' }).waitFor();
  await check(page, 'public-home-es-phone');
  await page.context().close();
});

test('a Spanish-speaking browser gets Spanish without choosing', async () => {
  const page = await newPage(browser, PHONE, { locale: 'es-MX' });
  await page.goto(`${server.base}/riverton/signin`);
  assert.equal(await page.getAttribute('html', 'lang'), 'es');
  await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
  await check(page, 'signin-es-phone');
  await page.context().close();
});

test('keyboard users can skip to the content', async () => {
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${server.base}/riverton`);
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.textContent.trim());
  assert.equal(first, 'Skip to main content');
  await page.keyboard.press('Enter');
  const focused = await page.evaluate(() => document.activeElement.id);
  assert.equal(focused, 'main');
  await page.context().close();
});

test('the demo admin signs in through the real form and sees the staff home', async () => {
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${server.base}/riverton/signin`);
  await check(page, 'signin-en-desktop');

  // A wrong password first: the error summary is announced and links to the field.
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /not right/);
  await check(page, 'signin-error');

  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('riverton-admin-lantern');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/riverton/staff');
  assert.equal(await page.textContent('h1'), 'Riverton Police Department');
  const officers = await page.locator('.card', { hasText: 'Officers' }).locator('.figure').textContent();
  assert.ok(Number(officers.replace(/,/g, '')) > 250, `real officer count shown (${officers})`);
  await check(page, 'staff-home');

  for (const [link, name] of [['Accounts', 'staff-accounts'], ['Audit log', 'staff-audit'], ['Settings', 'staff-settings'], ['Officers', 'staff-officers']]) {
    await page.getByRole('navigation', { name: 'Staff' }).getByRole('link', { name: link, exact: true }).click();
    await page.waitForLoadState();
    await check(page, name);
  }

  // Signing out ends the session.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/riverton');
  await page.goto(`${server.base}/riverton/staff`);
  assert.match(new URL(page.url()).pathname, /\/riverton\/signin/);
  await page.context().close();
});

test('error pages are accessible too', async () => {
  const page = await newPage(browser, PHONE);
  const response = await page.goto(`${server.base}/riverton/es/no-such-page`);
  assert.equal(response.status(), 404);
  page.problems = page.problems.filter((p) => !p.includes('404'));
  await page.getByRole('heading', { name: 'No se encontró la página' }).waitFor();
  await check(page, 'not-found-es');
  await page.context().close();
});
