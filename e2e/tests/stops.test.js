// The stop-data pages as an analyst meets them: the stops overview, the disparity analysis
// (filtered by year and district), an import report and the veil-of-darkness test, on a
// desktop and on a phone. Every page must have no serious or critical axe-core violation and
// no console error; every chart sits beside a table holding its numbers.

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

async function signIn(page) {
  await page.goto(`${server.base}/riverton/signin`);
  await page.getByLabel('Username').fill('analyst');
  await page.getByLabel('Password').fill('riverton-analyst-lantern');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/riverton/staff');
}

test('an analyst reads the stop analyses', async () => {
  for (const [viewport, label] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
    const page = await newPage(browser, viewport);
    await signIn(page);
    const stops = await page.locator('.card', { hasText: 'Stops' }).locator('.figure').textContent();
    assert.equal(stops, '45,000', 'the staff home counts the demo stops');

    await page.getByRole('navigation', { name: 'Staff' }).getByRole('link', { name: 'Stops', exact: true }).click();
    await page.getByRole('heading', { name: 'Stops', exact: true, level: 1 }).waitFor();
    await check(page, `stops-overview-${label}`);

    await page.getByRole('link', { name: 'Disparity analysis' }).click();
    await page.getByRole('heading', { name: 'Disparity analysis' }).waitFor();
    // The benchmark and six rate charts, each with its table, and the outcome test by district.
    assert.equal(await page.locator('svg.chart').count(), 7);
    assert.equal(await page.locator('table').count(), 8);
    await page.getByRole('table', { name: /Hit rate/ }).first().waitFor();
    await page.getByRole('table', { name: /by district and race/ }).waitFor();
    await check(page, `stops-analysis-${label}`);

    await page.getByLabel('Year', { exact: true }).selectOption('2024');
    await page.getByLabel('District', { exact: true }).selectOption('D2');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/year=2024/);
    await page.getByRole('table', { name: /Stops and residents by race \(Riverside/ }).waitFor();
    await check(page, `stops-analysis-filtered-${label}`);

    await page.goto(`${server.base}/riverton/staff/stops/darkness`);
    await page.getByRole('table', { name: /Effect of darkness/ }).waitFor();
    assert.equal(await page.locator('tbody tr').count(), 3, 'three model forms');
    await check(page, `stops-darkness-${label}`);

    await page.goto(`${server.base}/riverton/staff/stops/imports/1`);
    await page.getByRole('heading', { name: /Import 1/ }).waitFor();
    await check(page, `stops-import-${label}`);
    if (label === 'phone') {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `no sideways scrolling on a phone (page is ${width}px wide)`);
    }
    await page.context().close();
  }
});
