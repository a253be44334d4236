// Issue 16, the page as a daily tool: axe-core (WCAG 2.1 AA) in every
// state, light and dark, 1280 and 360 wide; a second tab; long values; the
// weight of a cold load and a warm reload; every flow by keyboard alone.
"use strict";
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { execSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { Daemon, launch, openPage, shot, signIn, axeScan } = require("./harness");

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };
const LONG_EMAIL = "firstname.middlename.lastname.department.division@subsidiary.example.com"; // 69+
const LONG_URL = "https://img.example.com/" + "a".repeat(2048 - 28) + ".png";

let d, browser;
const pages = [];
const report = {};

async function open(opt) {
	const p = await openPage(browser, d, opt);
	pages.push(p);
	return p;
}
async function settle(p) {
	await p.waitForFunction(() => ![...document.querySelectorAll(".meta")].some((e) => e.textContent === "Loading…"));
	await p.waitForTimeout(150);
}
// the API as the admin, from the test (Bearer: no CSRF)
let adminToken;
async function asAdmin(method, path, body) {
	return d.request(method, "/api/v0" + path, { headers: { Authorization: "Bearer " + adminToken }, body });
}

describe("the page as a daily tool (issue 16)", () => {
	before(async () => {
		// many users are made up front: a write budget that allows it
		d = await new Daemon({ rate_limit: { writes_per_minute: 6000, writes_burst: 500 } }).start();
		browser = await launch();
		// the admin's first sign-in, through the API, then a token for the test
		const r = await d.request("POST", "/api/v0/login", { body: { handle: "admin", password: d.adminPassword } });
		const cookie = r.headers["set-cookie"][0].split(";")[0];
		const h = { Cookie: cookie, "X-CSRF-Token": r.json.csrf_token };
		assert.equal(r.json.user.must_change_password, true);
		assert.equal((await d.request("PUT", "/api/v0/user/admin/console_password", { headers: h, body: { current_password: d.adminPassword, new_password: "admin-pass-1" } })).status, 204);
		d.adminPassword = "admin-pass-1";
		const t = await d.request("POST", "/api/v0/user/admin/token", { headers: h, body: { title: "e2e" } });
		adminToken = t.json.token;
		// people with long values, and enough users to page
		assert.equal((await asAdmin("POST", "/admin/user", { handle: "longmail", email: LONG_EMAIL, display_name: "Long Mail", password: "longmail-1", must_change_password: false })).status, 201);
		for (let i = 0; i < 30; i++)
			assert.equal((await asAdmin("POST", "/admin/user", { handle: "user" + String(i).padStart(2, "0"), email: "u" + i + "@example.com", password: "password-" + i, must_change_password: false })).status, 201);
		const lr = await d.request("POST", "/api/v0/login", { body: { handle: "longmail", password: "longmail-1" } });
		const lh = { Cookie: lr.headers["set-cookie"][0].split(";")[0], "X-CSRF-Token": lr.json.csrf_token };
		assert.equal((await d.request("PATCH", "/api/v0/user/longmail", { headers: lh, body: { avatar_url: LONG_URL } })).status, 200);
	});
	afterEach(() => { for (const p of pages) p.check(); });
	after(async () => {
		if (browser) await browser.close();
		if (d) await d.stop();
		console.log("issue 16 report: " + JSON.stringify(report, null, 1));
	});

	it("has no axe violations in any state, light and dark, 1280 and 360 wide", async () => {
		const fails = [];
		report.axe = {};
		for (const colorScheme of (process.env.E2E_QUICK ? ["light"] : ["light", "dark"])) {
			for (const viewport of [DESKTOP, PHONE]) {
				const p = await open({ colorScheme, viewport });
				const key = colorScheme + "-" + viewport.width;
				const scan = async (state) => {
					await settle(p);
					const v = await axeScan(p);
					(report.axe[state] ||= {})[key] = v.length;
					for (const x of v) fails.push(state + " (" + key + "): " + x.id + " — " + x.help + "\n    " + x.nodes.join("\n    "));
					if (colorScheme === "light" || viewport === DESKTOP) await shot(p, "issue16-" + state + "-" + colorScheme, { full: false });
				};
				await p.getByRole("heading", { name: "Sign in to acctd" }).waitFor();
				await scan("signin");
				await p.getByLabel("Handle").fill("nobody");
				await p.getByLabel("Console password").fill("wrong-password");
				p.expectStatus(401);
				await p.getByRole("button", { name: "Sign in" }).click();
				await p.getByText("Wrong handle or password").waitFor();
				await scan("signin-error");
				// a one-time password: the forced change
				const made = await asAdmin("POST", "/admin/user", { handle: "fresh" + colorScheme + viewport.width, email: "f@example.com" });
				assert.equal(made.status, 201, made.body);
				await p.getByLabel("Handle").fill(made.json.handle);
				await p.getByLabel("Console password").fill(made.json.initial_password);
				await p.getByRole("button", { name: "Sign in" }).click();
				await p.getByRole("heading", { name: "Choose a new console password" }).waitFor();
				await scan("must-change");
				await p.getByRole("button", { name: "Account menu for " + made.json.handle }).click();
				await p.getByRole("menuitem", { name: "Sign out" }).click();
				await signIn(p, "admin", d.adminPassword);
				for (const [hash, state] of [["#/settings/profile", "profile"], ["#/settings/tokens", "tokens"], ["#/settings/audit", "audit"],
					["#/settings/advanced", "advanced"], ["#/settings/password", "password"], ["#/admin/users", "users"],
					["#/admin/audit", "admin-audit"], ["#/admin/nodes", "nodes"]]) {
					await p.evaluate((x) => { location.hash = x; }, hash);
					await p.waitForFunction((x) => location.hash === x && document.querySelector("h1"), hash);
					await scan(state);
				}
				await p.getByRole("button", { name: "Account menu for admin" }).click();
				await scan("avatar-menu");
				await p.keyboard.press("Escape");
				await p.evaluate(() => { location.hash = "#/admin/users"; });
				await settle(p);
				await p.getByLabel("Search users").fill("long");
				await p.locator("tr[data-user=longmail]").waitFor();
				await scan("users-search");
				await p.getByLabel("Search users").fill("");
				await p.locator("tr[data-user=user00]").waitFor();
				await p.getByRole("button", { name: "Options for user00" }).click();
				await scan("user-menu");
				await p.getByRole("menuitem", { name: "Disable" }).click();
				await scan("disable-confirm");
				await p.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
				await p.getByRole("button", { name: "Create user" }).click();
				await scan("create-user");
				await p.getByRole("dialog").getByLabel("Handle").fill("made" + colorScheme + viewport.width);
				await p.getByRole("dialog").getByLabel("Email").fill("m@example.com");
				await p.getByRole("dialog").getByRole("button", { name: "Create user" }).click();
				await p.getByRole("dialog", { name: "User created" }).waitFor();
				await scan("initial-password");
				await p.getByRole("button", { name: "I have copied it" }).click();
				await p.evaluate(() => { location.hash = "#/admin/audit"; });
				await settle(p);
				await p.getByLabel("Action").selectOption("user.create");
				await p.getByRole("button", { name: "Filter" }).click();
				await p.waitForFunction(() => [...document.querySelectorAll("table.audit tbody tr td:nth-child(2)")].every((t) => t.textContent === "user.create"));
				await scan("audit-filtered");
				await p.evaluate(() => { location.hash = "#/settings/tokens"; });
				await settle(p);
				await p.getByRole("button", { name: "New Token" }).click();
				await scan("new-token");
				await p.getByRole("dialog").getByRole("button", { name: "Create token" }).click();
				await p.getByRole("button", { name: "I have copied it" }).waitFor();
				await p.getByRole("dialog").getByRole("button", { name: "Show token" }).click();
				await scan("new-token-shown");
				await p.getByRole("button", { name: "I have copied it" }).click();
				const mine = p.locator("table.tokens tbody tr", { hasNotText: "e2e" });   // not the test's own token
				await mine.waitFor();
				await mine.getByRole("button", { name: /^Options/ }).click();
				await scan("token-menu");
				await p.getByRole("menuitem", { name: "Delete" }).click();
				await scan("token-delete");
				await p.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
				await p.getByRole("dialog").waitFor({ state: "detached" });
				await p.evaluate(() => { location.hash = "#/settings/advanced"; });
				await settle(p);
				await p.getByRole("button", { name: "Delete Personal Account" }).click();
				await scan("delete-account");
				await p.keyboard.press("Escape");
				await p.context().close();
				pages.pop();
			}
		}
		assert.deepEqual(fails, [], "axe violations:\n" + fails.join("\n"));
	});

	it("long e-mails and 2048-character avatar URLs do not break the layout", async () => {
		for (const viewport of [DESKTOP, PHONE]) {
			const p = await open({ viewport });
			await signIn(p, "admin", d.adminPassword);
			for (const hash of ["#/admin/users", "#/admin/audit"]) {
				await p.evaluate((x) => { location.hash = x; }, hash);
				await settle(p);
				const w = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth,
					[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
						.slice(-4).map((e) => e.tagName + "." + e.className + ": " + e.textContent.slice(0, 80))]);
				assert.ok(w[0] <= w[1], hash + " at " + viewport.width + ": page " + w[0] + " px wide: " + w[2].join(" | "));
			}
			// the avatar change is one audit row of a sensible height, the URL cut (whole in the tooltip)
			await p.getByLabel("Action").selectOption("user.update");
			await p.getByRole("button", { name: "Filter" }).click();
			const row = p.locator("table.audit tbody tr", { hasText: "img.example.com" }).first();
			await row.waitFor();
			const hgt = await row.evaluate((r) => r.getBoundingClientRect().height);
			assert.ok(hgt < (viewport === DESKTOP ? 160 : 420), "audit row " + hgt + " px high at " + viewport.width);
			// (the audit record keeps a shortened URL itself: AUDIT_RECORD_MAX)
			const cell = await row.locator(".details").evaluate((e) => [e.textContent.length, (e.getAttribute("title") || "").length]);
			assert.ok(cell[0] < 200 && cell[1] > cell[0], "cut in the cell, whole in the tooltip: " + cell);
			(report.longValues ||= {})["auditRowHeight" + viewport.width] = Math.round(hgt);
			await shot(p, "issue16-long-values");
			await p.context().close();
			pages.pop();
		}
	});

	it("a second tab is signed in too, and a stale CSRF token recovers by itself", async () => {
		const p = await open();
		await signIn(p, "user01", "password-1");
		const tab2 = await p.context().newPage();
		await tab2.goto(d.url + "/#/settings/profile");
		await tab2.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		await settle(tab2);
		await tab2.getByLabel("Display Name").fill("From tab two");
		await tab2.getByRole("button", { name: "Save" }).click();
		await tab2.getByText("Saved", { exact: true }).waitFor();
		// signing in again in tab 2 (a new session): tab 1 still saves
		await tab2.getByRole("button", { name: "Account menu for user01" }).click();
		await tab2.getByRole("menuitem", { name: "Sign out" }).click();
		await signIn(tab2, "user01", "password-1");
		await settle(p);
		await p.reload();
		await settle(p);
		await p.getByLabel("Display Name").fill("");
		p.expectStatus(403);
		await p.evaluate(() => { /* nothing */ });
		await p.getByRole("button", { name: "Save" }).click();
		await p.getByText("Saved", { exact: true }).waitFor();
		const u = await asAdmin("GET", "/user/user01");
		assert.equal(u.json.display_name, null, "an empty display name is no display name");
		await tab2.close();
		p.problems.length = 0;
	});

	it("weighs at most 25 KB cold and 2 requests on a warm reload", async () => {
		// Chromium keeps nothing in its HTTP cache from a site whose
		// certificate it had to ignore: this browser trusts the test
		// certificate instead (by its key), as a browser trusts a real one
		const spki = execSync("openssl x509 -in '" + path.join(d.dir, "tls.crt") + "' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64").toString().trim();
		const b = await launch(["--ignore-certificate-errors-spki-list=" + spki]);
		const ctx = await b.newContext();
		const p = await ctx.newPage();
		// what went over the network (not from a cache), and its bytes
		// (headers and body as transferred), from the DevTools protocol
		const cdp = await ctx.newCDPSession(p);
		await cdp.send("Network.enable");
		let net = {};
		const urls = {};
		cdp.on("Network.requestWillBeSent", (e) => { urls[e.requestId] = e.request.url.replace(d.url, ""); });
		cdp.on("Network.responseReceived", (e) => {
			if (!e.response.fromDiskCache && !e.response.fromPrefetchCache && !e.response.fromServiceWorker)
				net[e.requestId] = { url: urls[e.requestId], status: e.response.status, bytes: 0 };
		});
		cdp.on("Network.requestServedFromCache", (e) => { delete net[e.requestId]; urls[e.requestId] = null; });
		cdp.on("Network.loadingFinished", (e) => { if (net[e.requestId]) net[e.requestId].bytes = e.encodedDataLength; });
		// the status on the wire (a revalidated document shows as 200 above, 304 here)
		const wire = {};
		cdp.on("Network.responseReceivedExtraInfo", (e) => { wire[e.requestId] = e.statusCode; });
		const take0 = () => { for (const [id, x] of Object.entries(net)) if (wire[id]) x.status = wire[id]; };
		const take = () => { take0(); const v = Object.values(net).filter((x) => x.url); net = {}; return v; };
		await p.goto(d.url + "/");
		await p.getByRole("heading", { name: "Sign in to acctd" }).waitFor();
		await p.waitForTimeout(500);
		const cold = take();
		const coldBytes = cold.reduce((n, e) => n + e.bytes, 0);
		await signIn(p, "user02", "password-2");
		await settle(p);
		await p.waitForTimeout(300);
		take();
		await p.reload();
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		await settle(p);
		await p.waitForTimeout(500);
		const warm = take();
		// the page's own requests: the document (304) and who is signed in;
		// the rest is the Profile's data (database password, workspaces)
		const shell = warm.filter((e) => !/\/api\/v0\/user\/user02\/(password|workspace)(\?reveal=0)?$/.test(e.url));
		report.weight = { cold: { requests: cold.length, bytes: coldBytes, entries: cold }, warm: { requests: warm.length, shell: shell.length, entries: warm } };
		// 25 KB (issue 16): the page's parts (web/admin.js, sessions.js, …)
		// come only when a page that needs them is opened
		assert.ok(coldBytes <= 25 * 1024, "cold load " + coldBytes + " bytes");
		assert.deepEqual(cold.filter((e) => /^\/assets\/(?!app\.)/.test(e.url) && !/logo/.test(e.url)).map((e) => e.url), [], "no part in the cold load");
		assert.ok(shell.length <= 2, "warm reload: " + JSON.stringify(shell));
		assert.equal(shell.find((e) => e.url.startsWith("/#") || e.url === "/").status, 304, "index.html revalidated");
		assert.equal(warm.filter((e) => /logo/.test(e.url)).length, 0, "the logo is not fetched again");
		await b.close();
	});

	it("every new flow works by keyboard alone", async () => {
		// only page.keyboard from here: Tab to a control by its name, type, Enter, Escape
		const made = await asAdmin("POST", "/admin/user", { handle: "keys", email: "keys@example.com", role: "admin" });
		const p = await open();
		const name = () => p.evaluate(() => { const e = document.activeElement; return (e.getAttribute("aria-label") || (e.labels && e.labels[0] && e.labels[0].textContent) || e.textContent || "").trim(); });
		async function tabTo(want, back) {
			for (let i = 0; i < 60; i++) {
				const n = await name();
				if (want instanceof RegExp ? want.test(n) : n === want) return;
				await p.keyboard.press(back ? "Shift+Tab" : "Tab");
			}
			assert.fail("no focusable " + want + " (at " + await name() + ")");
		}
		const typeIn = async (label, text) => { await tabTo(label); await p.keyboard.type(text); };
		const heading = (n) => p.getByRole("heading", { level: 1, name: n }).waitFor();
		const focusIsTitle = async () => assert.equal(await p.evaluate(() => document.activeElement.tagName), "H1");
		report.keyboard = [];
		const flow = (n) => report.keyboard.push(n);

		// 1. sign in with a one-time password, and the forced change
		await p.getByRole("heading", { name: "Sign in to acctd" }).waitFor();
		await p.keyboard.type("keys");                    // the handle field has focus
		await p.keyboard.press("Tab");
		await p.keyboard.type(made.json.initial_password);
		await p.keyboard.press("Enter");
		await heading("Choose a new console password");
		assert.equal(await name(), "One-time password");
		await p.keyboard.type(made.json.initial_password);
		await typeIn("New password", "keys-pass-1");
		await typeIn("Confirm new password", "keys-pass-1");
		await p.keyboard.press("Enter");
		await heading("Profile");
		await focusIsTitle();
		flow("sign in with a one-time password and set a new one; focus on the page heading");

		// 2. the skip link focuses the page heading, and does not navigate
		await p.keyboard.press("Shift+Tab");
		await tabTo("Skip to content", true);
		await p.keyboard.press("Enter");
		await focusIsTitle();
		assert.equal(await p.evaluate(() => location.hash), "#/settings/profile");
		flow("skip link to the page heading");

		// 3. clear the display name (empty = none) and save with Enter
		await typeIn("Display Name", "Keys");
		await p.keyboard.press("Enter");
		await p.getByText("Saved", { exact: true }).waitFor();
		await p.keyboard.press("Control+A");
		await p.keyboard.press("Backspace");
		await p.keyboard.press("Enter");
		await p.waitForFunction(() => document.querySelector(".ok-note").textContent === "Saved");
		assert.equal((await asAdmin("GET", "/user/keys")).json.display_name, null);
		flow("edit and clear the display name");

		// 4. a new token: the show-once dialog ignores Escape; "I have copied it" closes it
		await tabTo("Tokens", true);
		await p.keyboard.press("Enter");
		await heading("Tokens");
		await tabTo("New Token");
		await p.keyboard.press("Enter");
		await p.keyboard.type("kbd");
		await p.keyboard.press("Enter");
		await p.getByRole("button", { name: "I have copied it" }).waitFor();
		assert.equal(await name(), "Show token");
		await p.keyboard.press("Space");
		await p.waitForFunction(() => document.activeElement.getAttribute("aria-pressed") === "true");
		assert.equal(await name(), "Show token", "the toggle keeps its name and focus");
		await p.keyboard.press("Escape");
		await p.keyboard.press("Escape");
		assert.equal(await p.getByRole("dialog").count(), 1, "Escape does not close it");
		await tabTo("I have copied it");
		await p.keyboard.press("Enter");
		await p.getByRole("dialog").waitFor({ state: "detached" });
		flow("create a token; Escape keeps the show-once dialog; I have copied it closes it");

		// 5. deactivate from the row menu: focus comes back to the row
		await tabTo(/^Options for token kbd/);
		await p.keyboard.press("Enter");
		assert.equal(await name(), "Deactivate");
		await p.keyboard.press("Enter");
		await p.locator("table.tokens").getByText("inactive", { exact: true }).waitFor();
		await p.waitForFunction(() => /^Options for token kbd/.test(document.activeElement.getAttribute("aria-label") || ""));
		// delete it: the confirmation, Tab to Delete, Enter
		await p.keyboard.press("ArrowDown");
		await p.keyboard.press("ArrowDown");
		assert.equal(await name(), "Delete");
		await p.keyboard.press("Enter");
		await tabTo("Delete");
		await p.keyboard.press("Enter");
		await p.getByText("You have no tokens yet.").waitFor();
		await p.waitForFunction(() => document.activeElement.textContent === "New Token").catch(async (e) => { console.log("DEBUG", await p.evaluate(() => document.activeElement.outerHTML.slice(0, 300))); throw e; });
		flow("deactivate and delete a token from its row menu; focus stays on the page");

		// 6. admin: search users, disable with a confirmation, reset a password (shown once)
		await p.keyboard.press("Shift+Tab");
		await tabTo("Account menu for keys", true);
		await p.keyboard.press("Enter");
		await p.keyboard.press("ArrowDown");
		assert.equal(await name(), "Admin");
		await p.keyboard.press("Enter");
		await heading("Users");
		await typeIn("Search users", "user05");
		await p.locator("table.users tbody tr").first().waitFor();
		await p.waitForFunction(() => document.querySelectorAll("table.users tbody tr").length === 1);
		await tabTo("Options for user05");
		await p.keyboard.press("Enter");
		assert.equal(await name(), "Disable");
		await p.keyboard.press("Enter");
		await p.getByRole("dialog", { name: "Disable user05?" }).waitFor();
		await tabTo("Disable");
		await p.keyboard.press("Enter");
		await p.locator("tr[data-user=user05]").getByText("disabled", { exact: true }).waitFor();
		await p.waitForFunction(() => document.activeElement.getAttribute("aria-label") === "Options for user05");
		await p.keyboard.press("Enter");
		await p.keyboard.press("ArrowDown");
		assert.equal(await name(), "Reset console password");
		await p.keyboard.press("Enter");
		await tabTo("Reset password");
		await p.keyboard.press("Enter");
		await p.getByRole("dialog", { name: "New console password" }).waitFor();
		await p.keyboard.press("Escape");
		assert.equal(await p.getByRole("dialog", { name: "New console password" }).count(), 1);
		await tabTo("I have copied it");
		await p.keyboard.press("Enter");
		await p.waitForFunction(() => document.activeElement.getAttribute("aria-label") === "Options for user05");
		flow("admin: search users, disable after a confirmation, reset a password shown once");

		// 7. your own row offers no Disable
		await tabTo("Search users", true);
		await p.keyboard.press("Control+A");
		await p.keyboard.type("keys");
		await p.waitForFunction(() => document.querySelectorAll("table.users tbody tr").length === 1 && document.querySelector("tr[data-user=keys]"));
		await tabTo("Options for keys");
		await p.keyboard.press("Enter");
		assert.equal(await name(), "Reset console password");
		await p.keyboard.press("Escape");
		flow("no Disable on your own row");

		// 8. filter the appliance audit log
		await tabTo("Appliance audit log", true);
		await p.keyboard.press("Enter");
		await heading("Appliance audit log");
		await tabTo("Actor");
		await p.keyboard.type("keys");
		await p.keyboard.press("Enter");
		await p.waitForFunction(() => { const c = [...document.querySelectorAll("table.audit tbody tr td:nth-child(3)")]; return c.length && c.every((t) => t.textContent === "keys"); }).catch(async (e) => {
			console.log("DEBUG", await p.evaluate(() => [location.hash, document.activeElement.outerHTML.slice(0, 200), [...document.querySelectorAll("table.audit tbody tr td:nth-child(3)")].map((t) => t.textContent).join(","), document.querySelector("input[name=actor]").value]));
			throw e;
		});
		flow("filter the audit log by actor");

		// 9. delete an account: Enter in the confirmation field
		await tabTo("Account menu for keys", true);
		await p.keyboard.press("Enter");
		assert.equal(await name(), "Settings");
		await p.keyboard.press("Enter");
		await heading("Profile");
		await tabTo("Advanced", true);
		await p.keyboard.press("Enter");
		await heading("Advanced");
		await tabTo("Delete Personal Account");
		await p.keyboard.press("Enter");
		await p.keyboard.type("keys");
		await p.keyboard.press("Enter");
		await p.getByText("Your account keys was deleted.").waitFor();
		flow("delete the account with Enter in the confirmation");
	});
});
