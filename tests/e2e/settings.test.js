// Every settings flow of the admin page in Debian's Chromium against a real
// acctd (issue 6's "Done when"): the steps build on each other, in order.
"use strict";
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { Daemon, launch, openPage, shot } = require("./harness");

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };
const TOKEN_RE = /^spt_[0-9a-z]{20}_[0-9a-z]{33}$/;

let d, browser, admin, alice;
const pages = [];
const st = {};          // what one step hands the next

async function open(opt) {
	const p = await openPage(browser, d, opt);
	pages.push(p);
	return p;
}
async function signIn(page, handle, password) {
	await page.getByLabel("Handle").fill(handle);
	await page.getByLabel("Console password").fill(password);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
}
// a one-time password: the page asks for a new one before anything else
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
async function go(page, area, name) {
	await page.getByRole("navigation", { name: area }).getByRole("link", { name, exact: true }).click();
	await page.getByRole("heading", { level: 1, name }).waitFor();
	await settle(page);
}
// no "Loading…" left in the content
async function settle(page) {
	await page.waitForFunction(() => !document.querySelector(".content") ||
		![...document.querySelectorAll(".content .meta")].some((e) => e.textContent === "Loading…"));
}
function fieldError(page, label) {
	return page.locator(".field", { has: page.getByLabel(label, { exact: true }) }).locator(".field-error");
}
async function clipboard(page) {
	return page.evaluate(() => navigator.clipboard.readText());
}
async function both(page, name) {
	await settle(page);
	await shot(page, name);
	await page.setViewportSize(PHONE);
	await shot(page, name);
	await page.setViewportSize(DESKTOP);
}

describe("admin page: settings flows", () => {
	before(async () => {
		d = await new Daemon().start();
		browser = await launch();
	});
	afterEach(() => { for (const p of pages) p.check(); });
	after(async () => {
		if (browser) await browser.close();
		if (d) await d.stop();
	});

	it("the page is served with a strict CSP and no inline script or style", async () => {
		const r = await d.request("GET", "/");
		assert.equal(r.status, 200);
		assert.match(r.headers["content-security-policy"], /script-src 'self'; style-src 'self'/);
		assert.doesNotMatch(r.body, /<script>|style=|<style/);
		const js = await d.request("GET", "/assets/app.js");
		assert.equal(js.status, 200);
		assert.match(js.headers["content-type"], /^text\/javascript/);
		assert.ok(js.headers.etag);
		admin = await open();
		await admin.getByRole("heading", { name: "Sign in to acctd" }).waitFor();
		await shot(admin, "signin");
		await admin.setViewportSize(PHONE);
		await shot(admin, "signin");
		await admin.setViewportSize(DESKTOP);
	});

	it("admin signs in and creates a user whose initial password is shown once", async () => {
		const p = admin;
		// an empty handle is caught next to the field before any request
		await p.getByRole("button", { name: "Sign in" }).click();
		await assert.doesNotReject(fieldError(p, "Handle").getByText("Enter your handle").waitFor());
		await firstSignIn(p, "admin", d.adminPassword, "admin-pass-1");
		d.adminPassword = "admin-pass-1";
		// avatar menu: opens, closes on Escape (focus back on the button), leads to Admin
		const avatar = p.getByRole("button", { name: "Account menu for admin" });
		await avatar.click();
		const menu = p.getByRole("menu");
		await menu.getByRole("menuitem", { name: "Settings" }).waitFor();
		assert.equal(await menu.getByRole("menuitem").count(), 3);
		await p.keyboard.press("Escape");
		await menu.waitFor({ state: "hidden" });
		assert.equal(await avatar.evaluate((el) => el === document.activeElement), true);
		await avatar.click();
		await menu.getByRole("menuitem", { name: "Admin" }).click();
		await p.getByRole("heading", { level: 1, name: "Users" }).waitFor();
		await settle(p);

		await p.getByRole("button", { name: "Create user" }).click();
		const dlg = p.getByRole("dialog", { name: "Create user" });
		await dlg.getByLabel("Handle").fill("alice");
		await dlg.getByLabel("Email").fill("not-an-email");
		p.expectStatus(400);
		await dlg.getByRole("button", { name: "Create user" }).click();
		await fieldError(p, "Email").getByText(/^Email must be an email address/).waitFor();
		await dlg.getByLabel("Email").fill("alice@example.com");
		await dlg.getByLabel("Display name (optional)").fill("Alice");
		await dlg.getByRole("button", { name: "Create user" }).click();
		const once = p.getByRole("dialog", { name: "User created" });
		await once.getByText("shown only once").waitFor();
		st.alicePassword = (await once.locator("output.secret").textContent()).trim();
		assert.ok(st.alicePassword.length >= 8);
		await once.getByRole("button", { name: "Copy initial password" }).click();
		assert.equal(await clipboard(p), st.alicePassword);
		// Escape does not close it: only "I have copied it" does
		await p.keyboard.press("Escape");
		await p.waitForTimeout(200);
		assert.equal(await once.isVisible(), true, "Escape leaves the show-once dialog open");
		await once.getByRole("button", { name: "I have copied it" }).click();
		await once.waitFor({ state: "detached" });
		assert.equal(await p.getByText(st.alicePassword).count(), 0, "the initial password is shown once");
		await p.locator('tr[data-user="alice"]').getByText("alice@example.com").waitFor();
	});

	it("the new user signs in and changes the console password", async () => {
		alice = await open();
		const p = alice;
		// the initial password is one-time: a new one first
		await firstSignIn(p, "alice", st.alicePassword, "alice-pass-0");
		st.alicePassword = "alice-pass-0";
		// no Admin for a user, and an admin route falls back to Settings
		await p.getByRole("button", { name: "Account menu for alice" }).click();
		assert.equal(await p.getByRole("menuitem", { name: "Admin" }).count(), 0);
		await p.keyboard.press("Escape");
		await p.evaluate(() => { location.hash = "#/admin/users"; });
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();

		await go(p, "Settings", "Console password");
		await p.getByLabel("Current password").fill("wrong password");
		await p.getByLabel("New password", { exact: true }).fill("alice-pass-1");
		await p.getByLabel("Confirm new password").fill("alice-pass-2");
		await p.getByRole("button", { name: "Change password" }).click();
		await fieldError(p, "Confirm new password").getByText("The two new passwords do not match").waitFor();
		await p.getByLabel("Confirm new password").fill("alice-pass-1");
		p.expectStatus(400);
		await p.getByRole("button", { name: "Change password" }).click();
		await fieldError(p, "Current password").getByText("Current password is wrong").waitFor();
		await p.getByLabel("Current password").fill(st.alicePassword);
		await p.getByRole("button", { name: "Change password" }).click();
		await p.getByText("Your console password was changed").waitFor();
		st.alicePassword = "alice-pass-1";
	});

	it("edits the profile, with the API's validation error next to the field", async () => {
		const p = alice;
		await go(p, "Settings", "Profile");
		await p.getByLabel("Avatar URL").fill("ftp://example.com/me.png");
		p.expectStatus(400);
		await p.getByRole("button", { name: "Save" }).click();
		const err = fieldError(p, "Avatar URL");
		await err.getByText("Avatar URL must be an http or https URL").waitFor();
		assert.equal(await p.getByLabel("Avatar URL").getAttribute("aria-invalid"), "true");
		assert.match(await p.getByLabel("Avatar URL").getAttribute("aria-describedby"), new RegExp(await err.getAttribute("id")));
		await p.getByLabel("Display Name").fill("Alice Liddell");
		await p.getByLabel("Avatar URL").fill(d.url + "/assets/logo.svg");
		await p.getByRole("button", { name: "Save" }).click();
		await p.getByText("Saved", { exact: true }).waitFor();
		assert.equal(await err.isHidden(), true);
		// the top bar shows the avatar image now, and the menu the new name
		const img = p.locator("#who img.avatar");
		await img.waitFor();
		assert.equal(await img.getAttribute("src"), d.url + "/assets/logo.svg");
		await p.getByRole("button", { name: "Account menu for alice" }).click();
		await p.getByRole("menu").getByText("Alice Liddell").waitFor();
		await p.keyboard.press("Escape");
		const u = await p.evaluate(() => fetch("/api/v0/user/alice").then((r) => r.json()));
		assert.equal(u.display_name, "Alice Liddell");
		// a reload keeps the session and shows what was saved
		await p.reload();
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		await p.waitForFunction(() => document.querySelector("input[name=display_name]").value === "Alice Liddell");
	});

	it("rotates the database password and the revealed connection string changes", async () => {
		const p = alice;
		const row = p.locator(".ws", { hasText: "alice-prod.ws.test" });
		const code = row.locator("output.secret");
		await code.waitFor();
		assert.match(await code.textContent(), /^postgresql:\/\/alice:[^@]*\*[^@]*@alice-prod\.ws\.test:9193\/dea4px$/);
		const eye = row.getByRole("button", { name: "Show connection string for prod" });
		await eye.click();
		await row.locator('button[aria-pressed="true"]').waitFor();
		const before = await code.textContent();
		assert.match(before, /^postgresql:\/\/alice:[0-9a-z-]{20,}@alice-prod\.ws\.test:9193\/dea4px$/);
		assert.doesNotMatch(before, /\*/);
		await row.getByRole("button", { name: "Copy connection string for prod" }).click();
		await row.getByText("Copied").waitFor();
		assert.equal(await clipboard(p), before);

		const version = p.locator(".pw-version");
		assert.equal(await version.textContent(), "1");
		await p.getByRole("button", { name: "Rotate Password" }).click();
		const dlg = p.getByRole("dialog", { name: "Rotate your database password?" });
		await dlg.getByText("existing connections are not terminated").waitFor();
		await dlg.getByRole("button", { name: "Rotate Password" }).click();
		await dlg.waitFor({ state: "detached" });
		await p.locator(".pw-version", { hasText: "2" }).waitFor();
		await p.waitForFunction((old) => {
			const c = document.querySelector(".ws output.secret");
			return c && c.textContent !== old;
		}, before);
		const after_ = await code.textContent();
		assert.match(after_, /^postgresql:\/\/alice:[0-9a-z-]{20,}@alice-prod\.ws\.test:9193\/dea4px$/);
		assert.notEqual(after_, before);
		await eye.click();
		await p.waitForFunction(() => document.querySelector(".ws output.secret").textContent.includes("*"));
	});

	it("shows the new password's propagation to the nodes, which stays pending", async () => {
		// the nodes point at nothing listening: node1 stays pending with an error
		const p = alice;
		const li = p.locator("ul.prop li[data-node=node1]");
		await li.waitFor();
		await p.waitForFunction(() => /^node1: pending — \S/.test(document.querySelector("ul.prop li[data-node=node1]").textContent));
		await settle(p);
		await p.evaluate(() => window.scrollTo(0, 0));
		await shot(p, "profile-propagation");
		// leaving the page stops the 1 s polling: no request to /password after
		let polls = 0;
		p.on("request", (r) => { if (r.url().endsWith("/api/v0/user/alice/password")) polls++; });
		await go(p, "Settings", "Audit Log");
		await p.waitForTimeout(2200);
		assert.equal(polls, 0);
	});

	it("an admin sees the nodes and their push state", async () => {
		const p = admin;
		await p.evaluate(() => { location.hash = "#/admin/users"; });
		await go(p, "Admin", "Nodes");
		const row = p.locator("table.nodes tr[data-node=node1]");
		await row.waitFor();
		assert.equal(await row.locator("td").nth(1).textContent(), "https://127.0.0.1:9443");
		assert.match(await row.locator(".status").textContent(), /^(failing|pending)$/);
		assert.ok(+(await row.locator("td").nth(3).textContent()) >= 1, "alice's password is pending");
		// Refresh reloads the table until the failed attempt's error shows
		const refresh = p.getByRole("button", { name: "Refresh" });
		for (let i = 0; await row.locator("td").nth(4).textContent() === "—"; i++) {
			assert.ok(i < 20, "node1 shows a last error");
			await p.waitForTimeout(500);
			await refresh.click();
			await p.waitForFunction(() => !document.querySelector(".toolbar button").hasAttribute("aria-busy"));
		}
		await both(p, "nodes");
		// a non-admin gets the profile instead
		await alice.evaluate(() => { location.hash = "#/admin/nodes"; });
		await alice.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		await settle(alice);
	});

	it("creates both tokens, reveals and copies one, and hits the limit", async () => {
		const p = alice;
		await go(p, "Settings", "Tokens");
		await p.getByText("You have no tokens yet.").waitFor();
		const newBtn = p.getByRole("button", { name: "New Token" });
		assert.equal(await newBtn.isEnabled(), true);
		st.tokens = {};
		for (const title of ["ci", "laptop"]) {
			await newBtn.click();
			const dlg = p.getByRole("dialog", { name: "New token" });
			await dlg.getByLabel("Title (optional)").fill(title);
			await dlg.getByRole("button", { name: "Create token" }).click();
			await dlg.getByText("Make a secure note of this token; you will not be able to retrieve it again").waitFor();
			const code = dlg.locator("output.secret");
			assert.match(await code.textContent(), /^spt_•+[0-9a-z]{4}$/);
			await dlg.getByRole("button", { name: "Show token" }).click();
			await dlg.locator('button[aria-pressed="true"]').waitFor();
			const tok = await code.textContent();
			assert.match(tok, TOKEN_RE);
			st.tokens[title] = tok;
			if (title === "ci") {
				await shot(p, "tokens-new", { full: false });
				await p.setViewportSize(PHONE);
				await shot(p, "tokens-new", { full: false });
				await p.setViewportSize(DESKTOP);
				await dlg.getByRole("button", { name: "Copy token" }).click();
				await dlg.getByText("Copied", { exact: true }).waitFor();
				assert.equal(await clipboard(p), tok);
			}
			await dlg.getByRole("button", { name: "I have copied it" }).click();
			await dlg.waitFor({ state: "detached" });
			await p.locator(`tr[data-token="${tok.slice(-4)}"]`).getByText("active", { exact: true }).waitFor();
		}
		// the token works, and is never shown again
		const r = await d.request("GET", "/api/v0/actor", { headers: { Authorization: "Bearer " + st.tokens.ci } });
		assert.equal(r.status, 200);
		assert.equal(r.json.handle, "alice");
		assert.equal(await p.getByText(st.tokens.ci).count(), 0);
		// the limit: button disabled, with the explanation
		await p.waitForFunction(() => document.querySelector(".toolbar button").disabled);
		const note = p.getByText("You can have up to 2 tokens");
		await note.first().waitFor();
		assert.equal(await newBtn.getAttribute("aria-describedby"), "limit-note");
		assert.equal(await p.locator("#limit-note").isVisible(), true);
		assert.equal(await p.locator("table.tokens tbody tr").count(), 2);
	});

	it("deactivates, activates and deletes a token from its row menu", async () => {
		const p = alice;
		const ci = st.tokens.ci, last4 = ci.slice(-4);
		const row = p.locator(`tr[data-token="${last4}"]`);
		const opts = row.getByRole("button", { name: `Options for token ci …${last4}` });
		await opts.click();
		await p.getByRole("menuitem", { name: "Deactivate" }).click();
		await row.getByText("inactive", { exact: true }).waitFor();
		const bad = await d.request("GET", "/api/v0/actor", { headers: { Authorization: "Bearer " + ci } });
		assert.equal(bad.status, 401, "an inactive token does not authenticate");
		// the tokens section at its fullest, with a row menu open
		await both(p, "tokens");
		await p.locator(`tr[data-token="${last4}"]`).getByRole("button", { name: /^Options/ }).click();
		await shot(p, "tokens-menu");
		// keyboard: the menu focuses its first item, Escape closes it, focus returns
		await p.keyboard.press("Escape");
		await p.getByRole("menu").waitFor({ state: "hidden" });
		const opts2 = p.locator(`tr[data-token="${last4}"]`).getByRole("button", { name: /^Options/ });
		await opts2.focus();
		await p.keyboard.press("Enter");
		await p.waitForFunction(() => document.activeElement.getAttribute("role") === "menuitem");
		assert.equal(await p.evaluate(() => document.activeElement.textContent), "Activate");
		await p.keyboard.press("Enter");
		await p.locator(`tr[data-token="${last4}"]`).getByText("active", { exact: true }).waitFor();
		const good = await d.request("GET", "/api/v0/actor", { headers: { Authorization: "Bearer " + ci } });
		assert.equal(good.status, 200);

		await p.locator(`tr[data-token="${last4}"]`).getByRole("button", { name: /^Options/ }).click();
		await p.getByRole("menuitem", { name: "Delete" }).click();
		const dlg = p.getByRole("dialog", { name: `Delete token ci …${last4}?` });
		await dlg.getByRole("button", { name: "Delete" }).click();
		await dlg.waitFor({ state: "detached" });
		await p.locator(`tr[data-token="${last4}"]`).waitFor({ state: "detached" });
		await p.waitForFunction(() => !document.querySelector(".toolbar button").disabled);
		assert.equal(await p.locator("#limit-note").isVisible(), false);
		assert.equal(await p.locator("table.tokens tbody tr").count(), 1);
		const gone = await d.request("GET", "/api/v0/actor", { headers: { Authorization: "Bearer " + ci } });
		assert.equal(gone.status, 401);
	});

	it("shows each action in the Audit Log, newest first", async () => {
		const p = alice;
		await go(p, "Settings", "Audit Log");
		const actions = await p.locator("table.audit tbody tr td:nth-child(2)").allTextContents();
		for (const a of ["user.create", "session.login", "user.console_password.change", "user.update",
			"user.password.rotate", "token.create", "token.update", "token.delete"])
			assert.ok(actions.includes(a), a + " in " + actions.join(", "));
		assert.equal(actions[0], "token.delete", "newest first");
		assert.equal(actions.filter((a) => a === "token.create").length, 2);
		assert.equal(actions.filter((a) => a === "token.update").length, 2);
		const times = await p.locator("table.audit tbody time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
		assert.deepEqual([...times].sort().reverse(), times);
		const upd = p.locator("table.audit tbody tr", { hasText: "user.update" });
		await upd.getByText("display_name: Alice → Alice Liddell").waitFor();
		const rot = p.locator("table.audit tbody tr", { hasText: "user.password.rotate" });
		await rot.getByText("version: 2").waitFor();
		assert.equal(await rot.locator("td").nth(3).textContent(), "127.0.0.1");
		assert.equal(await p.getByRole("button", { name: "Load more" }).isVisible(), false);
	});

	it("screenshots of each settings section, desktop and phone, light and dark", async () => {
		const p = alice;
		for (const [name, file] of [["Profile", "profile"], ["Tokens", null], ["Audit Log", "audit"], ["Console password", "password"]]) {
			await go(p, "Settings", name);
			if (file) await both(p, file);
		}
		await p.emulateMedia({ colorScheme: "dark" });
		for (const [name, file] of [["Profile", "profile-dark"], ["Tokens", "tokens-dark"]]) {
			await go(p, "Settings", name);
			await settle(p);
			await shot(p, file);
		}
		await p.setViewportSize(PHONE);
		await shot(p, "tokens-dark");
		await p.setViewportSize(DESKTOP);
		await p.emulateMedia({ colorScheme: "light" });
	});

	it("changes the handle, showing the old → new DNS names before saving", async () => {
		const p = alice;
		await go(p, "Settings", "Advanced");
		await p.getByText("changing it changes the DNS name of ALL of your workspaces").waitFor();
		const hd = p.getByLabel("Handle", { exact: true });
		assert.equal(await hd.inputValue(), "alice");
		// a taken handle: the 409's validation error sits next to the field
		await hd.fill("admin");
		p.expectStatus(409);
		await p.getByRole("button", { name: "Save" }).click();
		await fieldError(p, "Handle").getByText("Handle is taken").waitFor();
		await hd.fill("Alicia");
		const li = p.locator(".dns-preview li");
		await li.waitFor();
		assert.equal(await li.locator("code.old").textContent(), "alice-prod.ws.test");
		assert.equal(await li.locator("code.new").textContent(), "alicia-prod.ws.test");
		await both(p, "advanced");
		await p.getByRole("button", { name: "Save" }).click();
		await p.getByRole("button", { name: "Account menu for alicia" }).waitFor();
		assert.equal(await hd.inputValue(), "alicia");
		const u = await d.request("GET", "/api/v0/actor", { headers: { Authorization: "Bearer " + st.tokens.laptop } });
		assert.equal(u.json.handle, "alicia");
		const log = await p.evaluate(() => fetch("/api/v0/user/alicia/audit?limit=1").then((r) => r.json()));
		assert.deepEqual(log.items[0].data.handle, { old: "alice", new: "alicia" });
		// the workspace now answers to its new name, on the page and in DNS
		await go(p, "Settings", "Profile");
		await p.locator(".ws", { hasText: "alicia-prod.ws.test" }).locator("output.secret").getByText(/^postgresql:\/\/alicia:.*@alicia-prod\.ws\.test:9193\/dea4px$/).waitFor();
		const hostsFile = require("node:path").join(d.dir, "ws.hosts");
		for (let i = 0; i < 50 && !/alicia-prod\.ws\.test/.test(require("node:fs").readFileSync(hostsFile, "utf8")); i++)
			await new Promise((r) => setTimeout(r, 100));
		const hosts = require("node:fs").readFileSync(hostsFile, "utf8");
		assert.match(hosts, /\balicia-prod\.ws\.test\b/);
		assert.doesNotMatch(hosts, /\balice-prod\.ws\.test\b/);
		await go(p, "Settings", "Advanced");
	});

	it("revoking tokens signs the user out and kills every token", async () => {
		const p = alice;
		await p.getByRole("button", { name: "Revoke tokens" }).click();
		const dlg = p.getByRole("dialog", { name: "Revoke every token?" });
		await dlg.getByText("you will be signed out").waitFor();
		await dlg.getByRole("button", { name: "Revoke tokens" }).click();
		await p.getByRole("heading", { name: "Sign in to acctd" }).waitFor();
		await p.getByText("Every token and session was revoked; sign in again.").waitFor();
		const r = await d.request("GET", "/api/v0/actor", { headers: { Authorization: "Bearer " + st.tokens.laptop } });
		assert.equal(r.status, 401);
	});

	it("an ended session returns to sign-in with a message", async () => {
		const p = alice;
		await signIn(p, "alicia", st.alicePassword);
		await go(p, "Settings", "Tokens");
		await p.context().clearCookies();
		p.expectStatus(401);
		await p.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Audit Log" }).click();
		await p.getByText("Your session ended; sign in again.").waitFor();
		// signing in again returns to where the user was
		await p.getByLabel("Handle").fill("alicia");
		await p.getByLabel("Console password").fill(st.alicePassword);
		await p.getByRole("button", { name: "Sign in" }).click();
		await p.getByRole("heading", { level: 1, name: "Audit Log" }).waitFor();
	});

	it("deletes the account once the handle is typed, and signs out", async () => {
		const p = alice;
		await go(p, "Settings", "Advanced");
		await p.getByRole("button", { name: "Delete Personal Account" }).click();
		const dlg = p.getByRole("dialog", { name: "Delete your account?" });
		const del = dlg.getByRole("button", { name: "Delete", exact: true });
		assert.equal(await del.isDisabled(), true);
		await dlg.getByLabel("Type your handle, alicia, to confirm").fill("alice");
		assert.equal(await del.isDisabled(), true);
		await shot(p, "advanced-delete", { full: false });
		await p.setViewportSize(PHONE);
		await shot(p, "advanced-delete", { full: false });
		await p.setViewportSize(DESKTOP);
		await dlg.getByLabel("Type your handle, alicia, to confirm").fill("alicia");
		assert.equal(await del.isEnabled(), true);
		await del.click();
		await p.getByText("Your account alicia was deleted.").waitFor();
		p.expectStatus(401);
		await p.getByLabel("Handle").fill("alicia");
		await p.getByLabel("Console password").fill(st.alicePassword);
		await p.getByRole("button", { name: "Sign in" }).click();
		await fieldError(p, "Console password").getByText("Wrong handle or password").waitFor();
	});
});
