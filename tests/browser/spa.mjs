// Drives headless Chromium (Debian's, through playwright-core) for
// tests/tests/browser_apps.rs: the browser app at SPA_URL signs in against ISSUER and
// calls /token, /userinfo and /revoke from page JavaScript; a page at EVIL_URL (an origin
// no client lists) tries the token endpoint and must be refused by the browser. Prints
// one JSON line with what the pages saw; the Rust test judges it.
import { chromium } from "playwright-core";

const { ISSUER, SPA_URL, EVIL_URL, USERNAME, PASSWORD } = process.env;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const report = {};
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  await page.goto(SPA_URL + "/");
  await page.click("#start");
  await page.waitForURL((u) => u.toString().startsWith(ISSUER + "/login"));
  await page.fill("#username", USERNAME);
  await page.fill("#password", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL((u) => !u.toString().startsWith(ISSUER + "/login"));
  // The consent (or approval) page, when the server shows one.
  if (page.url().startsWith(ISSUER + "/consent")) {
    await page.click("button[value=approve]");
  }
  await page.waitForURL((u) => u.toString().startsWith(SPA_URL + "/cb"));
  await page.waitForFunction(() => window.__result !== undefined);
  report.spa = await page.evaluate(() => window.__result);

  const evil = await browser.newPage();
  await evil.goto(EVIL_URL + "/");
  report.evil = await evil.evaluate(async (issuer) => {
    const tryFetch = async (path, init) => {
      try {
        const r = await fetch(issuer + path, init);
        return "read " + r.status;
      } catch (e) {
        return "refused";
      }
    };
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    return {
      token: await tryFetch("/token", { method: "POST", body }),
      token_with_dpop: await tryFetch("/token", { method: "POST", body, headers: { DPoP: "x" } }),
      userinfo: await tryFetch("/userinfo", { headers: { Authorization: "Bearer x" } }),
      discovery: await tryFetch("/.well-known/openid-configuration", {}),
    };
  }, ISSUER);
} catch (e) {
  report.error = String(e);
  for (const p of browser.contexts().flatMap((c) => c.pages())) {
    const text = await p.evaluate(() => document.body.innerText).catch(() => "");
    report.pages = [...(report.pages || []), p.url() + " " + text.slice(0, 300)];
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
