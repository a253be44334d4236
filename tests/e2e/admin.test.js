// The admin pages in Debian's Chromium against a real acctd: users (create
// with the initial password shown once, paging, disable/enable, reset the
// console password) and the appliance audit log with chain verify.
"use strict";
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { Daemon, launch, openPage, shot } = require("./harness");

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };

let d, browser, admin;
const pages = [];

async function open() {
	const p = await openPage(browser, d);
	pages.push(p);
	return p;
}
async function signIn(page, handle, password) {
	await page.getByLabel("Handle").fill(handle);
	await page.getByLabel("Console password").fill(password);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
}
async function firstSignIn(page, handle, password, newPassword) {
	await page.getByLabel("Handle").fill(handle);
	await page.getByLabel("Console password").fill(password);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.getByRole("heading", { level: 1, name: "Choose a new console password" }).waitFor();
	await page.getByLabel("One-time password").fill(password);
	await page.getByLabel("New password", { exact: true }).fill(newPassword);
	await page.getByLabel("Confirm new password").fill(newPassword);
	await page.getByRole("button", { name: "Set new password" }).click();
	await page.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
}
async function settle(page) {
	await page.waitForFunction(() => ![...document.querySelectorAll(".content .meta")].some((e) => e.textContent === "Loading…"));
}
async function both(page, name) {
	await settle(page);
	await shot(page, name);
	await page.setViewportSize(PHONE);
	await shot(page, name);
	await page.setViewportSize(DESKTOP);
}
async function createUser(p, handle) {
	await p.getByRole("button", { name: "Create user" }).click();
	const dlg = p.getByRole("dialog", { name: "Create user" });
	await dlg.getByLabel("Handle").fill(handle);
	await dlg.getByLabel("Email").fill(handle + "@example.com");
	await dlg.getByRole("button", { name: "Create user" }).click();
	const once = p.getByRole("dialog", { name: "User created" });
	const pw = (await once.locator("output.secret").textContent()).trim();
	await once.getByRole("button", { name: "I have copied it" }).click();
	await once.waitFor({ state: "detached" });
	return pw;
}

describe("admin page: users and the appliance audit log", () => {
	before(async () => {
		// a small page of users needs more than 25 of them: made through the API
		d = await new Daemon().start();
		browser = await launch();
	});
	afterEach(() => { for (const p of pages) p.check(); });
	after(async () => {
		if (browser) await browser.close();
		if (d) await d.stop();
	});

	it("creates a user (initial password once) who can then sign in", async () => {
		admin = await open();
		await firstSignIn(admin, "admin", d.adminPassword, "admin-pass-1");
		await admin.evaluate(() => { location.hash = "#/admin/users"; });
		await admin.getByRole("heading", { level: 1, name: "Users" }).waitFor();
		await settle(admin);
		const pw = await createUser(admin, "carol");
		assert.equal(await admin.getByText(pw).count(), 0);
		const carol = await open();
		await firstSignIn(carol, "carol", pw, "carol-pass-1");
		await carol.getByRole("button", { name: "Account menu for carol" }).waitFor();
		await carol.context().close();
		pages.pop();
		// a taken handle is shown next to the field
		await admin.getByRole("button", { name: "Create user" }).click();
		const dlg = admin.getByRole("dialog", { name: "Create user" });
		await dlg.getByLabel("Handle").fill("carol");
		await dlg.getByLabel("Email").fill("c2@example.com");
		admin.expectStatus(409);
		await dlg.getByRole("button", { name: "Create user" }).click();
		await admin.locator(".field", { has: admin.getByLabel("Handle", { exact: true }) }).getByText("Handle is taken").waitFor();
		await admin.keyboard.press("Escape");
		await dlg.waitFor({ state: "detached" });
	});

	it("pages through users, disables, enables and resets a console password", async () => {
		const p = admin;
		// more than one page (25) of users, made through the API as the admin
		// the session's CSRF token, as a second tab gets it: from /actor
		const csrf = await p.evaluate(() => fetch("/api/v0/actor").then((r) => r.headers.get("X-CSRF-Token")));
		await p.evaluate(async (csrf) => {
			for (let i = 0; i < 26; i++) {
				const r = await fetch("/api/v0/admin/user", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
					body: JSON.stringify({ handle: "user" + String(i).padStart(2, "0"), email: "u" + i + "@example.com", password: "password-" + i, must_change_password: false }) });
				if (r.status !== 201) throw new Error("create: " + r.status);
			}
		}, csrf);
		await p.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Appliance audit log" }).click();
		await p.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Users" }).click();
		await settle(p);
		const rows = p.locator("table.users tbody tr");
		assert.equal(await rows.count(), 25);
		await p.getByRole("button", { name: "Load more" }).click();
		await p.waitForFunction(() => document.querySelectorAll("table.users tbody tr").length === 28);
		assert.equal(await p.getByRole("button", { name: "Load more" }).isVisible(), false);
		const handles = await p.locator("table.users tbody tr td:first-child").allTextContents();
		assert.deepEqual([...handles].sort(), handles, "by handle");

		const row = () => p.locator('tr[data-user="user03"]');
		await row().getByRole("button", { name: "Options for user03" }).click();
		await p.getByRole("menuitem", { name: "Disable" }).click();
		const conf = p.getByRole("dialog", { name: "Disable user03?" });
		await conf.getByRole("button", { name: "Disable" }).click();
		await row().getByText("disabled", { exact: true }).waitFor();
		let r = await d.request("POST", "/api/v0/login", { body: { handle: "user03", password: "password-3" } });
		assert.equal(r.status, 401, "a disabled user cannot sign in");
		await row().getByRole("button", { name: "Options for user03" }).click();
		await p.getByRole("menuitem", { name: "Enable" }).click();
		await row().getByText("active", { exact: true }).waitFor();
		r = await d.request("POST", "/api/v0/login", { body: { handle: "user03", password: "password-3" } });
		assert.equal(r.status, 200);

		await row().getByRole("button", { name: "Options for user03" }).click();
		await p.getByRole("menuitem", { name: "Reset console password" }).click();
		await p.getByRole("dialog", { name: "Reset user03’s console password?" }).getByRole("button", { name: "Reset password" }).click();
		const once = p.getByRole("dialog", { name: "New console password" });
		const pw = (await once.locator("output.secret").textContent()).trim();
		await shot(p, "admin-reset-once", { full: false });
		await once.getByRole("button", { name: "I have copied it" }).click();
		await once.waitFor({ state: "detached" });
		assert.equal(await p.getByText(pw).count(), 0);
		r = await d.request("POST", "/api/v0/login", { body: { handle: "user03", password: pw } });
		assert.equal(r.status, 200);
		assert.equal(r.json.user.must_change_password, true, "a reset password is one-time");
		await p.evaluate(() => window.scrollTo(0, 0));
		await both(p, "admin-users");
	});

	it("shows the appliance audit log with paging and verifies the chain", async () => {
		const p = admin;
		await p.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Appliance audit log" }).click();
		await p.getByRole("heading", { level: 1, name: "Appliance audit log" }).waitFor();
		await settle(p);
		const rows = p.locator("table.audit tbody tr");
		assert.equal(await rows.count(), 20);
		assert.equal(await rows.first().locator("td").nth(1).textContent(), "session.login");
		await p.getByRole("button", { name: "Load more" }).click();
		await p.waitForFunction(() => document.querySelectorAll("table.audit tbody tr").length > 20);
		await p.getByRole("button", { name: "Load more" }).waitFor({ state: "hidden" });
		const ids = await rows.evaluateAll((rs) => rs.length);
		// every record once, newest first
		const times = await p.locator("table.audit tbody time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
		assert.deepEqual([...times].sort().reverse(), times);
		assert.ok(ids > 30);
		const actions = await p.locator("table.audit tbody tr td:nth-child(2)").allTextContents();
		for (const a of ["user.create", "user.disable", "user.enable", "user.console_password.reset", "session.login"])
			assert.ok(actions.includes(a), a);
		await p.getByRole("button", { name: "Verify chain" }).click();
		await p.getByText(/^Chain intact: all \d+ records verified\.$/).waitFor();
		await p.evaluate(() => window.scrollTo(0, 0));
		await both(p, "admin-audit");
	});

	it("works with the keyboard alone, with a visible focus", async () => {
		const p = admin;
		await p.reload();
		await p.getByRole("heading", { level: 1, name: "Appliance audit log" }).waitFor();
		const focused = () => p.evaluate(() => document.activeElement.getAttribute("aria-label") || document.activeElement.textContent.trim());
		await p.keyboard.press("Tab");
		assert.equal(await focused(), "Skip to content");
		await p.keyboard.press("Tab");
		await p.keyboard.press("Tab");
		assert.equal(await focused(), "Account menu for admin");
		const ring = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
		assert.equal(ring, "solid", "a visible focus ring");
		await p.keyboard.press("Enter");
		assert.equal(await focused(), "Settings");
		await p.keyboard.press("ArrowDown");
		assert.equal(await focused(), "Admin");
		await p.keyboard.press("ArrowDown");
		assert.equal(await focused(), "Sign out");
		await p.keyboard.press("ArrowUp");
		await p.keyboard.press("ArrowUp");
		await shot(p, "keyboard-menu", { full: false });
		await p.keyboard.press("Enter");
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		// focus moves to the new page's heading, Tab into its form, Shift+Tab
		// back to the left menu; Enter on a link navigates
		assert.equal(await p.evaluate(() => document.activeElement.id), "page-title");
		await p.keyboard.press("Tab");
		assert.equal(await p.evaluate(() => document.activeElement.name), "display_name");
		await p.keyboard.press("Shift+Tab");
		assert.equal(await focused(), "Two-factor");  // the menu's last entry
		// back up the menu to Tokens (issue 15's parts add entries between)
		for (let i = 0; i < 8 && (await focused()) !== "Tokens"; i++) await p.keyboard.press("Shift+Tab");
		assert.equal(await focused(), "Tokens");
		await p.keyboard.press("Enter");
		await p.getByRole("heading", { level: 1, name: "Tokens" }).waitFor();
		assert.equal(await p.evaluate(() => document.activeElement.id), "page-title");
		await p.keyboard.press("Tab");
		assert.equal(await focused(), "New Token");
		await p.keyboard.press("Enter");
		const dlg = p.getByRole("dialog", { name: "New token" });
		await dlg.waitFor();
		assert.equal(await focused(), "");
		assert.equal(await p.evaluate(() => document.activeElement.name), "title");
		await p.keyboard.press("Escape");
		await dlg.waitFor({ state: "detached" });
	});

	it("signs out from the avatar menu, and a reload stays signed out", async () => {
		const p = admin;
		await p.getByRole("button", { name: "Account menu for admin" }).click();
		await p.getByRole("menuitem", { name: "Sign out" }).click();
		await p.getByText("You signed out.").waitFor();
		await p.reload();
		await p.getByRole("heading", { name: "Sign in to acctd" }).waitFor();
		assert.equal(await p.locator("#who").isHidden(), true);
		p.expectStatus(401);
		const r = await p.evaluate(() => fetch("/api/v0/actor").then((x) => x.status));
		assert.equal(r, 401);
	});
});
