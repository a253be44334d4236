// Issue 15 part C in the browser: Settings → Sessions lists this browser and
// the others ("This session"), ends another one (it is signed out at once);
// an admin sees and ends a user's sessions from the Users page; the audit
// log's Export CSV downloads what the filters show. Screenshots:
// build/screenshots/sessions-*.png.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { Daemon, launch, openPage, shot, signIn, axeScan } = require("./harness");

let d, browser, samPage, adminPage;
const pages = [];
const SAM_PW = "sam-password-1";

async function open() {
	const p = await openPage(browser, d);
	pages.push(p);
	return p;
}
async function go(p, area, name) {
	await p.getByRole("navigation", { name: area }).getByRole("link", { name, exact: true }).click();
	await p.getByRole("heading", { level: 1, name }).waitFor();
	await p.waitForFunction(() => ![...document.querySelectorAll(".content .meta, dialog .meta")].some((e) => e.textContent === "Loading…"));
}

describe("sessions and audit export (issue 15 C)", () => {
	before(async () => {
		d = await new Daemon().start();
		browser = await launch();
		const r = await d.request("POST", "/api/v0/login", { body: { handle: "admin", password: d.adminPassword } });
		const h = { Cookie: r.headers["set-cookie"][0].split(";")[0], "X-CSRF-Token": r.json.csrf_token };
		assert.equal((await d.request("PUT", "/api/v0/user/admin/console_password", { headers: h, body: { current_password: d.adminPassword, new_password: "admin-pass-1" } })).status, 204);
		d.adminPassword = "admin-pass-1";
		assert.equal((await d.request("POST", "/api/v0/admin/user", { headers: h, body: { handle: "sam", email: "sam@example.com", password: SAM_PW, must_change_password: false } })).status, 201);
	});
	after(async () => {
		for (const p of pages) await p.context().close().catch(() => {});
		if (browser) await browser.close();
		if (d) await d.stop();
	});

	it("lists this browser and another, and ends the other", async () => {
		const other = await open();
		await signIn(other, "sam", SAM_PW);
		const p = await open();
		await signIn(p, "sam", SAM_PW);
		await go(p, "Settings", "Sessions");
		const rows = p.locator("table.sessions tbody tr");
		assert.equal(await rows.count(), 2);
		const mine = rows.filter({ hasText: "This session" });
		assert.equal(await mine.count(), 1);
		assert.match(await mine.locator("td").first().innerText(), /Chrome \d+ on Linux/);
		assert.match(await mine.locator("td").nth(1).innerText(), /^127\.0\.0\.1$/);
		await shot(p, "sessions-settings");
		const violations = await axeScan(p);
		assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
		// end the other browser's session
		await rows.filter({ hasNotText: "This session" }).getByRole("button", { name: /^End session/ }).click();
		await p.getByRole("dialog").getByRole("button", { name: "End session" }).click();
		await p.getByRole("dialog").waitFor({ state: "detached" });
		await p.locator("table.sessions tbody tr").first().waitFor();
		await p.waitForFunction(() => document.querySelectorAll("table.sessions tbody tr").length === 1);
		assert.equal(await p.locator("table.sessions tbody tr").filter({ hasText: "This session" }).count(), 1);
		await shot(p, "sessions-after-end");
		// the other browser's next request is 401: it is signed out
		other.expectStatus(401);
		await other.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Tokens", exact: true }).click();
		await other.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
		p.check();
		other.check();
		samPage = p;
	});

	it("an admin sees and ends a user's session from the Users page", async () => {
		const a = await open();
		await signIn(a, "admin", d.adminPassword);
		await a.evaluate(() => { location.hash = "#/admin/users"; });
		await a.getByRole("heading", { level: 1, name: "Users" }).waitFor();
		await a.locator('tr[data-user="sam"]').waitFor();
		const row = a.locator('tr[data-user="sam"]');
		await row.getByRole("button", { name: "Options for sam" }).click();
		await a.getByRole("menuitem", { name: "Sessions" }).click();
		const dlg = a.getByRole("dialog", { name: "Sessions of sam" });
		await dlg.locator("table.sessions tbody tr").first().waitFor();
		assert.equal(await dlg.locator("table.sessions tbody tr").count(), 1);
		assert.equal(await dlg.getByText("This session").count(), 0);
		await shot(a, "sessions-admin", { full: false });
		await dlg.getByRole("button", { name: /^End session/ }).click();
		await a.getByRole("dialog", { name: /^End this session of sam/ }).getByRole("button", { name: "End session" }).click();
		await dlg.getByText("No active sessions.").waitFor();
		// sam's browser is signed out
		samPage.expectStatus(401);
		await samPage.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Profile", exact: true }).click();
		await samPage.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
		await dlg.getByRole("button", { name: "Close" }).click();
		a.check();
		adminPage = a;
	});

	it("exports the filtered audit log as CSV", async () => {
		const a = adminPage;
		await go(a, "Admin", "Appliance audit log");
		await a.getByLabel("Action").selectOption("session.");
		await a.getByRole("button", { name: "Filter" }).click();
		await a.locator("table.audit tbody tr").first().waitFor();
		await shot(a, "sessions-audit-export");
		const [dl] = await Promise.all([a.waitForEvent("download"), a.getByRole("link", { name: "Export CSV" }).click()]);
		assert.match(dl.suggestedFilename(), /^acctd-audit-all-\d{8}T\d{6}Z\.csv$/);
		const text = fs.readFileSync(await dl.path(), "utf8");
		const lines = text.trim().split("\r\n");
		assert.equal(lines[0].split(",")[2], "action_type");
		const actions = lines.slice(1).map((l) => l.split(",")[2]);
		assert.ok(actions.length >= 4, text);
		assert.ok(actions.every((x) => x.startsWith("session.")), actions.join(" "));
		assert.equal(actions.filter((x) => x === "session.end").length, 2);
		// Chromium lets a page start one download on its own and asks the
		// user before a second one ("download multiple files?"; headless:
		// cancelled) unless a click it has seen came in between, which two
		// clicks in a row race. A reload starts the page's count afresh.
		await a.reload();
		await go(a, "Admin", "Appliance audit log");
		await a.getByLabel("Action").selectOption("session.");
		await a.getByRole("button", { name: "Filter" }).click();
		await a.locator("table.audit tbody tr").first().waitFor();
		const [dj] = await Promise.all([a.waitForEvent("download"), a.getByRole("link", { name: "Export JSONL" }).click()]);
		const recs = fs.readFileSync(await dj.path(), "utf8").trim().split("\n").map((l) => JSON.parse(l));
		assert.ok(recs.every((x) => x.action_type.startsWith("session.")));
		a.check();
	});
});
