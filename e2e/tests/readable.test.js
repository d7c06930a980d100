// Pages people can read on a 390 px phone and in Spanish: no sideways scrolling of the page,
// chart text at least 12 px as rendered, no English left on the Spanish pages, form errors
// that take the focus. Every page: no serious or critical axe-core violation.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, launch, newPage, seriousViolations, shoot, startDemo } from '../lib/harness.js';

let server;
let browser;
let resultsPath;

before(async () => {
  server = await startDemo();
  browser = await launch();
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${server.base}/riverton`);
  resultsPath = await page.getByRole('link', { name: /Results: / }).first().getAttribute('href');
  await page.context().close();
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

/** The page body does not scroll sideways. */
async function fitsWidth(page, name, width) {
  const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scroll <= width, `${name}: the page is ${scroll}px wide on a ${width}px screen`);
}

/** Every chart's text renders at 12 CSS px or more. */
async function chartTextReadable(page, name) {
  const sizes = await page.evaluate(() => [...document.querySelectorAll('svg.chart')].map((svg) => {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return Math.min(...[...svg.querySelectorAll('text')].map((t) => parseFloat(getComputedStyle(t).fontSize) * scale));
  }));
  for (const px of sizes) {
    assert.ok(px >= 12, `${name}: chart text renders at ${px.toFixed(1)}px`);
  }
  return sizes.length;
}

/** Visible text nodes of the page (not inside hidden elements). */
async function visibleTexts(page) {
  return page.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent.trim();
      const el = n.parentElement;
      if (!text || !el || el.closest('[lang="en"]')) continue;
      const style = getComputedStyle(el);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      if (el.getClientRects().length === 0 && !el.closest('svg')) continue;
      out.push(text);
    }
    return out;
  });
}

// Words of the English pages that a Spanish page must not show.
const ENGLISH = /\b(the|and|with|share|answers|intervals?|results|print|page|back|too few|people|range|sign in|every|value)\b/i;

test('Spanish public pages have no English left and write numbers the Spanish way', async () => {
  const code = resultsPath.split('/')[3];
  for (const path of ['/riverton/es', `/riverton/es/s/${code}/results`, `/riverton/es/s/${code}/flyer`, `/riverton/es/s/${code}?src=qr`, '/riverton/es/signin']) {
    const page = await newPage(browser, PHONE);
    const r = await page.goto(`${server.base}${path}`);
    assert.equal(r.status(), 200, path);
    const texts = await visibleTexts(page);
    const english = texts.filter((t) => ENGLISH.test(t) && !/Lantern|Riverton/.test(t));
    assert.deepEqual(english, [], `${path}: English text on a Spanish page`);
    const decimalPoint = texts.filter((t) => /\d\.\d{1,2}(?!\d)\s*%?/.test(t) && !/\d{4}-\d\d/.test(t) && !/\d+\.\d+\.\d+\.\d+/.test(t));
    assert.deepEqual(decimalPoint, [], `${path}: numbers written with a decimal point`);
    await check(page, `readable-es-${path.replace(/[^a-z0-9]+/gi, '_')}`);
    await page.context().close();
  }
});

test('public pages and their charts are readable on a phone', async () => {
  for (const path of ['/riverton', '/riverton/es', resultsPath, resultsPath.replace('/riverton/', '/riverton/es/')]) {
    for (const [viewport, label] of [[PHONE, 'phone'], [DESKTOP, 'desktop']]) {
      const page = await newPage(browser, viewport);
      await page.goto(`${server.base}${path}`);
      const name = `readable-${path.replace(/[^a-z0-9]+/gi, '_')}-${label}`;
      await fitsWidth(page, name, viewport.width);
      await chartTextReadable(page, name);
      await check(page, name);
      await page.context().close();
    }
  }
});

test('staff stop analyses fit a phone and a desktop', async () => {
  for (const [viewport, label] of [[PHONE, 'phone'], [DESKTOP, 'desktop']]) {
    const page = await newPage(browser, viewport);
    await page.goto(`${server.base}/riverton/signin`);
    await page.getByLabel('Username').fill('analyst');
    await page.getByLabel('Password').fill('riverton-analyst-lantern');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/staff');
    for (const path of ['/riverton/staff/stops', '/riverton/staff/stops/analysis', '/riverton/staff/stops/darkness']) {
      await page.goto(`${server.base}${path}`);
      const name = `readable-${path.replace(/[^a-z0-9]+/gi, '_')}-${label}`;
      await fitsWidth(page, name, viewport.width);
      if (path !== '/riverton/staff/stops') {
        assert.ok(await chartTextReadable(page, name) > 0, `${name}: charts drawn`);
      }
      // Tables fit their column (on a phone they reflow): nothing is cut off.
      const cut = await page.evaluate(() => [...document.querySelectorAll('.table-wrap')]
        .filter((w) => w.scrollWidth > w.clientWidth + 1)
        .map((w) => w.getAttribute('aria-label')));
      assert.deepEqual(cut, [], `${name}: tables cut off`);
      await check(page, name);
    }
    await page.context().close();
  }
});

test('a form with errors: focus on the summary, title and fields say so', async () => {
  for (const [path, title] of [['/riverton/signin', /^Error: Sign in/], ['/riverton/es/signin', /^Error: Iniciar sesión/]]) {
    const page = await newPage(browser, PHONE);
    await page.goto(`${server.base}${path}`);
    await page.locator('#username').fill('nobody');
    await page.locator('#password').fill('wrong password');
    await page.locator('form[action$="/signin"] button[type="submit"]').click();
    await page.locator('.error-summary').waitFor();
    assert.match(await page.title(), title);
    const focused = await page.evaluate(() => document.activeElement.classList.contains('error-summary'));
    assert.ok(focused, `${path}: the error summary has the focus`);
    assert.equal(await page.getAttribute('#username', 'aria-invalid'), 'true');
    const describedBy = await page.getAttribute('#username', 'aria-describedby');
    assert.ok(describedBy.split(' ').includes('username-error'), describedBy);
    assert.ok(await page.locator('#username-error').isVisible());
    await check(page, `readable-form-error-${path.replace(/[^a-z0-9]+/gi, '_')}`);
    await page.context().close();
  }
});

test('switching language keeps the survey link\'s channel tag', async () => {
  const code = resultsPath.split('/')[3];
  const page = await newPage(browser, PHONE);
  await page.goto(`${server.base}/riverton/s/${code}?src=qr`);
  await page.getByRole('link', { name: 'Español' }).click();
  await page.waitForURL(`**/riverton/es/s/${code}?src=qr`);
  await page.context().close();
});
