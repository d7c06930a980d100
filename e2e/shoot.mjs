// Ad-hoc screenshots of pages for a look (not a test): node shoot.mjs BASE path...
import { launch, newPage, shoot, DESKTOP, PHONE } from './lib/harness.js';
const [base, ...paths] = process.argv.slice(2);
const browser = await launch();
const page = await newPage(browser, DESKTOP);
await page.goto(`${base}/riverton/signin`);
await page.getByLabel('Username').fill('admin');
await page.getByLabel('Password').fill('riverton-admin-lantern');
await page.getByRole('button', { name: 'Sign in' }).click();
await page.waitForURL('**/staff');
for (const p of paths) {
  const [path, mode] = p.split('@');
  const target = mode === 'phone' ? await newPage(browser, PHONE) : page;
  const r = await target.goto(`${base}${path}`);
  const name = path.replace(/[^a-z0-9]+/gi, '_') + (mode ? `_${mode}` : '');
  await shoot(target, `look-${name}`);
  console.log(r.status(), path, target.problems.join('; '));
}
await browser.close();
