// Loads stratumd's dashboard in headless Chromium and checks what it shows against what
// the test expects; prints what it saw as one JSON line. Run by tests/e2e_dashboard.rs:
//   node dashboard.mjs <url> <accepted shares> <worker> <screenshot.png>
import { chromium } from "playwright-core";

const [url, accepted, worker, shot] = process.argv.slice(2);
// Never hang a test run: whatever happens, this process ends within 90 s.
setTimeout(() => { console.log(JSON.stringify({ failed: "watchdog: 90 s", seen: {} })); process.exit(2); }, 90000).unref();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  timeout: 30000,
});
let failed = null;
const seen = {};
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1300 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url, { timeout: 15000 });
  // The numbers the API gives, once a poll has drawn them.
  await page.waitForFunction(
    n => document.getElementById("accepted").textContent === n, accepted, { timeout: 15000 });
  const row = page.locator(`#workers tr[data-worker="${worker}"]`);
  await row.waitFor({ timeout: 15000 });
  seen.accepted = await page.textContent("#accepted");
  seen.connections = await page.textContent("#connections");
  seen.hashrate = await page.textContent("#hashrate");
  seen.interval = await page.textContent("#hashrate-ci");
  seen.worker = await row.locator("td").allTextContents();
  seen.outputs = await page.locator("#outputs tbody tr").count();
  seen.coinbase = await page.textContent("#coinbase-total");
  // The block found, with each bitcoind's answer.
  await page.locator("#found tbody tr").first().waitFor({ timeout: 15000 });
  seen.block = await page.locator("#found tbody tr").first().locator("td").allTextContents();
  // Sorting by a header reorders without losing rows.
  await page.click('#workers th[data-key="rate"]');
  seen.rows_after_sort = await page.locator("#workers tbody tr").count();
  // Two reports drawn (stats_interval 1 s): the chart has its band and line.
  await page.waitForFunction(
    () => document.querySelectorAll("#chart polygon, #chart polyline").length === 2, null,
    { timeout: 15000 });
  seen.chart = await page.locator("#chart polygon, #chart polyline").count();
  seen.errors = errors;
  await page.screenshot({ path: shot, fullPage: true });
} catch (e) {
  failed = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify({ failed, seen }));
process.exit(failed ? 1 : 0);
