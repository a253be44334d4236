// Scheduled rotation of the database password (issue 15, part D): the
// Database Password card shows when the next rotation is due, as the API
// says it, and a rotation moves it; a user without a schedule sees so.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { Daemon, launch, openPage, shot, axeScan } = require("./harness");

let d, browser, page;
const DAY = 86400 * 1000;

async function signIn(p, handle, password) {
	await p.getByLabel("Handle").fill(handle);
	await p.getByLabel("Console password").fill(password);
	await p.getByRole("button", { name: "Sign in" }).click();
	await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
}
let token;
function asAdmin(method, path, body) {
	return d.request(method, "/api/v0" + path, { headers: { Authorization: "Bearer " + token }, body });
}

describe("scheduled rotation on the page (issue 15 D)", () => {
	before(async () => {
		d = await new Daemon({ passwords: { pbkdf2_iterations: 1000, rotate_every_days: 90 } }).start();
		browser = await launch();
		const r = await d.request("POST", "/api/v0/login", { body: { handle: "admin", password: d.adminPassword } });
		const h = { Cookie: r.headers["set-cookie"][0].split(";")[0], "X-CSRF-Token": r.json.csrf_token };
		assert.equal((await d.request("PUT", "/api/v0/user/admin/console_password", { headers: h, body: { current_password: d.adminPassword, new_password: "admin-pass-1" } })).status, 204);
		token = (await d.request("POST", "/api/v0/user/admin/token", { headers: h, body: { title: "e2e" } })).json.token;
		assert.equal((await asAdmin("POST", "/admin/user", { handle: "alice", email: "a@example.com", password: "alice-pass-1", must_change_password: false })).status, 201);
	});
	after(async () => {
		if (page) await page.context().close();
		if (browser) await browser.close();
		if (d) await d.stop();
	});

	it("shows the next rotation due, as the API has it", async () => {
		page = await openPage(browser, d);
		await signIn(page, "alice", "alice-pass-1");
		const due = page.locator(".rot-due");
		await due.waitFor();
		const api = (await asAdmin("GET", "/user/alice/password?reveal=0")).json;
		assert.ok(api.dbpass_next_rotation_at);
		assert.equal(Date.parse(api.dbpass_next_rotation_at) - Date.parse(api.created_at), 90 * DAY);
		assert.match(await due.textContent(), /next rotation due \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
		assert.equal(await due.locator("time").getAttribute("datetime"), api.dbpass_next_rotation_at);
		await shot(page, "rotation-due");
		assert.deepEqual(await axeScan(page), []);
		page.check();
	});

	it("a shorter period of the user's own moves it", async () => {
		const r = await asAdmin("PATCH", "/user/alice", { dbpass_rotate_every_days: 30 });
		assert.equal(r.status, 200);
		await page.reload();
		await page.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		const api = (await asAdmin("GET", "/user/alice/password?reveal=0")).json;
		assert.equal(Date.parse(api.dbpass_next_rotation_at) - Date.parse(api.created_at), 30 * DAY);
		await page.locator(`.rot-due time[datetime="${api.dbpass_next_rotation_at}"]`).waitFor();
		await shot(page, "rotation-user-30d");
		page.check();
	});

	it("the user sets their own period on the page; over the policy is refused next to the field", async () => {
		const days = page.getByLabel("Rotate automatically every (days)");
		assert.equal(await days.inputValue(), "30");
		await days.fill("120");
		page.expectStatus(400);
		await page.getByRole("button", { name: "Update schedule" }).click();
		await page.locator(".rot-form .field-error:not([hidden])").waitFor();
		assert.equal((await asAdmin("GET", "/user/alice")).json.dbpass_rotate_every_days, 30);
		await days.fill("7");
		await page.getByRole("button", { name: "Update schedule" }).click();
		await page.locator(".rot-form .ok-note", { hasText: "Saved" }).waitFor();
		assert.equal((await asAdmin("GET", "/user/alice")).json.dbpass_rotate_every_days, 7);
		const api = (await asAdmin("GET", "/user/alice/password?reveal=0")).json;
		assert.equal(Date.parse(api.dbpass_next_rotation_at) - Date.parse(api.created_at), 7 * DAY);
		await page.locator(`.rot-due time[datetime="${api.dbpass_next_rotation_at}"]`).waitFor();
		await shot(page, "rotation-user-form");
		assert.deepEqual(await axeScan(page), []);
		page.check();
	});
});
