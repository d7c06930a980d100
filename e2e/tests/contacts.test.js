// Post-contact invitations as an analyst and a resident meet them: the demo sends through a
// small SMTP server run by this test; the analyst uploads a CAD export on the survey's
// contacts page; the resident opens the link from the e-mail, answers once (a second visit
// says the link is used) and finds the opt-out page of another invitation, in Spanish. Every
// page: no serious or critical axe-core violation and no console error.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DESKTOP, PHONE, launch, newPage, seriousViolations, shoot, startDemo } from '../lib/harness.js';

let server;
let browser;
let smtp;
const mails = [];

/** Just enough SMTP to take messages: EHLO, MAIL, RCPT, DATA, QUIT. */
function startSmtp() {
  return new Promise((ok) => {
    const s = createServer((socket) => {
      let buffer = '';
      let data = null;
      socket.write('220 test ESMTP\r\n');
      socket.on('data', (chunk) => {
        buffer += chunk.toString('utf8');
        let i;
        while ((i = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          if (data !== null) {
            if (line === '.') {
              mails.push(data);
              data = null;
              socket.write('250 queued\r\n');
            } else {
              data += `${line.startsWith('.') ? line.slice(1) : line}\n`;
            }
            continue;
          }
          const upper = line.toUpperCase();
          if (upper.startsWith('EHLO')) socket.write('250-test\r\n250 8BITMIME\r\n');
          else if (upper === 'DATA') { data = ''; socket.write('354 go ahead\r\n'); }
          else if (upper === 'QUIT') { socket.end('221 bye\r\n'); }
          else socket.write('250 OK\r\n');
        }
      });
      socket.on('error', () => {});
    });
    s.listen(0, '127.0.0.1', () => ok(s));
  });
}

/** The survey link (or its opt-out link) in a message, as a path. */
function linkIn(mail, optOut = false) {
  const text = mail.replace(/=\n/g, '');
  const links = text.match(/http:\/\/127\.0\.0\.1:\d+(\/riverton\/(?:es\/)?i\/[A-Za-z0-9_-]+(?:\/opt-out)?)/g) || [];
  const found = links.map((l) => l.replace(/^http:\/\/127\.0\.0\.1:\d+/, '')).find((l) => l.endsWith('/opt-out') === optOut);
  assert.ok(found, `no link in:\n${mail}`);
  return found;
}

async function waitForMails(n) {
  const deadline = Date.now() + 15_000;
  while (mails.length < n) {
    if (Date.now() > deadline) throw new Error(`${mails.length} of ${n} messages arrived`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  smtp = await startSmtp();
  process.env.LANTERN_SMTP_URL = `smtp://127.0.0.1:${smtp.address().port}`;
  process.env.LANTERN_MAIL_FROM = 'surveys@riverton.example.gov';
  server = await startDemo();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  smtp?.close();
});

async function check(page, name) {
  const violations = await seriousViolations(page);
  await shoot(page, name);
  assert.deepEqual(violations, [], `${name}: axe found serious problems`);
  assert.deepEqual(page.problems.filter((p) => !/status of 4\d\d/.test(p)), [], `${name}: the browser reported problems`);
}

test('contacts imported by an analyst get an e-mail whose link answers once', async () => {
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${server.base}/riverton/signin`);
  await page.getByLabel('Username').fill('analyst');
  await page.getByLabel('Password').fill('riverton-analyst-lantern');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/riverton/staff');
  await page.goto(`${server.base}/riverton/staff/surveys`);
  await page.getByRole('link', { name: 'After a call or a stop', exact: true }).click();
  await page.getByRole('link', { name: 'Contacts and invitations' }).click();
  await check(page, 'staff-contacts');

  const dir = mkdtempSync(join(tmpdir(), 'lantern-contacts-'));
  const file = join(dir, 'cad-export.csv');
  writeFileSync(file, [
    'incident_number,occurred_at,call_type,district,officer,phone,email,language',
    'E2E-1,2026-05-31 14:05,Traffic stop,D1,1001,,resident.one@example.com,en',
    'E2E-2,2026-05-31 15:10,Domestic violence,D2,1001,,resident.two@example.com,en',
    'E2E-3,2026-05-31 16:20,Theft report,D3,1001,,residente.tres@example.com,es',
    '',
  ].join('\n'));
  await page.getByLabel('Contacts file (CSV)').setInputFiles(file);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByText('3 contact events read').waitFor();
  await check(page, 'staff-contacts-imported');
  await waitForMails(2);
  const english = mails.find((m) => m.includes('resident.one@example.com'));
  const spanish = mails.find((m) => m.includes('residente.tres@example.com'));
  assert.ok(english && spanish, 'one message each');
  assert.ok(!mails.some((m) => m.includes('resident.two@example.com')), 'the excluded call type gets nothing');
  await page.context().close();

  const resident = await newPage(browser, PHONE);
  const link = linkIn(english);
  await resident.goto(`${server.base}${link}`);
  await check(resident, 'invitation-form');
  await resident.getByRole('group', { name: /Overall, how satisfied/ }).getByText('9', { exact: true }).click();
  await resident.getByRole('button', { name: 'Next' }).click();
  await resident.getByText('Step 2 of 2').waitFor();
  await resident.getByRole('button', { name: 'Send my answers' }).click();
  await resident.getByRole('heading', { name: 'Thank you' }).waitFor();
  const again = await resident.goto(`${server.base}${link}`);
  assert.equal(again.status(), 410);
  await resident.getByRole('heading', { name: 'This link has been used' }).waitFor();
  await check(resident, 'invitation-used');

  const optOut = linkIn(spanish, true);
  await resident.goto(`${server.base}${optOut}`);
  await check(resident, 'opt-out-form');
  await resident.getByRole('button', { name: 'Dejar de recibir mensajes de encuestas' }).click();
  await resident.getByRole('heading', { name: 'No recibirá más mensajes de encuestas' }).waitFor();
  await check(resident, 'opt-out-done');
  await resident.context().close();
});
