// Token scopes on the page (issue 15, part A): the New token dialog offers
// the scope, the token it makes has it (checked against the real acctd),
// and the token list shows it. Screenshots: build/screenshots/scopes-*.png.
"use strict";
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { Daemon, launch, openPage, shot, axeScan } = require("./harness");

const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

let d, browser, p;

describe("admin page: token scopes", () => {
	before(async () => {
		d = await new Daemon().start();
		browser = await launch();
	});
	afterEach(() => { if (p) p.check(); });
	after(async () => {
		if (browser) await browser.close();
		if (d) await d.stop();
	});

	it("creates a connect token that may read workspaces and nothing else, and lists its scope", async () => {
		p = await openPage(browser, d);
		await p.getByLabel("Handle").fill("admin");
		await p.getByLabel("Console password").fill(d.adminPassword);
		await p.getByRole("button", { name: "Sign in" }).click();
		await p.getByRole("heading", { level: 1, name: "Choose a new console password" }).waitFor();
		await p.getByLabel("One-time password").fill(d.adminPassword);
		await p.getByLabel("New password", { exact: true }).fill("admin-pass-1");
		await p.getByLabel("Confirm new password").fill("admin-pass-1");
		await p.getByRole("button", { name: "Set new password" }).click();
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		await p.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Tokens", exact: true }).click();
		await p.getByText("You have no tokens yet.").waitFor();

		const tokens = {};
		for (const [title, label] of [["cli", "Connect"], ["reports", "Read only"]]) {
			await p.getByRole("button", { name: "New Token" }).click();
			const dlg = p.getByRole("dialog", { name: "New token" });
			await dlg.getByLabel("Title (optional)").fill(title);
			const scope = dlg.getByLabel("Scope");
			assert.equal(await scope.inputValue(), "full");        // the default: what tokens always were
			await scope.selectOption({ label });
			if (title === "cli") {
				await dlg.getByText("enough for acctd-cli psql").waitFor();
				assert.deepEqual(await axeScan(p), []);
				await shot(p, "scopes-dialog", { full: false });
				await p.setViewportSize(PHONE);
				await shot(p, "scopes-dialog", { full: false });
				await p.setViewportSize(DESKTOP);
			}
			await dlg.getByRole("button", { name: "Create token" }).click();
			await dlg.getByRole("button", { name: "Show token" }).click();
			await dlg.locator('button[aria-pressed="true"]').waitFor();
			tokens[title] = await dlg.locator("output.secret").textContent();
			await dlg.getByRole("button", { name: "I have copied it" }).click();
			await dlg.waitFor({ state: "detached" });
		}
		// what each token may do, asked of acctd itself
		const as = (t) => ({ headers: { Authorization: "Bearer " + tokens[t] } });
		assert.equal((await d.request("GET", "/api/v0/user/admin/workspace", as("cli"))).status, 200);
		const refused = await d.request("GET", "/api/v0/user/admin/token", as("cli"));
		assert.equal(refused.status, 403);
		assert.match(refused.json.detail, /scope is "connect"/);
		assert.equal((await d.request("GET", "/api/v0/user/admin/token", as("reports"))).status, 200);
		assert.equal((await d.request("POST", "/api/v0/user/admin/token_reset", as("reports"))).status, 403);
		// the list shows each scope
		const row = (t) => p.locator(`tr[data-token="${tokens[t].slice(-4)}"]`);
		await row("cli").getByText("Connect", { exact: true }).waitFor();
		await row("reports").getByText("Read only", { exact: true }).waitFor();
		assert.deepEqual(await axeScan(p), []);
		await shot(p, "scopes-list");
		await p.setViewportSize(PHONE);
		await shot(p, "scopes-list");
		await p.setViewportSize(DESKTOP);
	});
});
