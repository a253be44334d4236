// Two-factor sign-in in the admin page (issue 15 part B), Debian's Chromium
// against a real acctd: enrol from Settings (the QR code drawn by the page,
// the secret as text), confirm, the recovery codes shown once, sign-in
// asking for the code after the password, a recovery code, turning it off.
// Codes are computed here with node:crypto (RFC 6238: SHA-1, 6 digits, 30 s).
"use strict";
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { Daemon, launch, openPage, shot } = require("./harness");

let d, browser, p;
const st = {};

function b32decode(s) {
	const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	let bits = 0, acc = 0;
	const out = [];
	for (const ch of s.replace(/[\s=]/g, "")) {
		acc = (acc << 5) | A.indexOf(ch);
		bits += 5;
		if (bits >= 8) { out.push((acc >>> (bits - 8)) & 0xff); bits -= 8; }
	}
	return Buffer.from(out);
}
function hotp(secret, counter) {
	const msg = Buffer.alloc(8);
	msg.writeBigUInt64BE(BigInt(counter));
	const mac = crypto.createHmac("sha1", b32decode(secret)).update(msg).digest();
	const off = mac[mac.length - 1] & 0x0f;
	return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, "0");
}
// the current step, at least 4 s from either edge (the daemon sees the same)
async function stepNow() {
	for (;;) {
		const t = Date.now() / 1000;
		if (t % 30 >= 4 && t % 30 <= 26) return Math.floor(t / 30);
		await new Promise((r) => setTimeout(r, 1000));
	}
}
async function signOut(page) {
	await page.getByRole("button", { name: /^Account menu for / }).click();
	await page.getByRole("menuitem", { name: "Sign out" }).click();
	await page.getByRole("heading", { name: "Sign in to acctd" }).waitFor();
}
async function password(page, handle, pw) {
	await page.getByLabel("Handle").fill(handle);
	await page.getByLabel("Console password").fill(pw);
	await page.getByRole("button", { name: "Sign in" }).click();
}

describe("admin page: two-factor sign-in", () => {
	before(async () => {
		d = await new Daemon().start();
		browser = await launch();
		p = await openPage(browser, d);
	});
	afterEach(() => p.check());
	after(async () => {
		if (browser) await browser.close();
		if (d) await d.stop();
	});

	it("enrols from Settings with a QR code and the secret as text", async () => {
		await password(p, "admin", d.adminPassword);
		await p.getByRole("heading", { level: 1, name: "Choose a new console password" }).waitFor();
		await p.getByLabel("One-time password").fill(d.adminPassword);
		await p.getByLabel("New password", { exact: true }).fill("admin-pass-1");
		await p.getByLabel("Confirm new password").fill("admin-pass-1");
		await p.getByRole("button", { name: "Set new password" }).click();
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		await p.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Two-factor", exact: true }).click();
		await p.getByRole("heading", { level: 1, name: "Two-factor sign-in" }).waitFor();
		await p.getByRole("button", { name: "Set up an authenticator" }).click();
		const qr = p.getByRole("img", { name: "QR code of the two-factor secret for admin" });
		await qr.waitFor();
		// a square of dark modules: version 4 or more for this URI (33+ modules)
		const modules = await qr.evaluate((el) => el.viewBox.baseVal.width - 8);
		assert.ok(modules >= 33, "QR modules: " + modules);
		st.secret = (await p.locator(".totp-secret").textContent()).replace(/\s/g, "");
		assert.match(st.secret, /^[A-Z2-7]{32}$/);
		await shot(p, "totp-enrol");
	});

	it("a wrong code is refused next to the field, the right one turns it on with recovery codes shown once", async () => {
		const step = await stepNow();
		const wrong = hotp(st.secret, step) === "000000" ? "111111" : "000000";
		await p.getByLabel("Code from the app").fill(wrong);
		p.expectStatus(400);
		await p.getByRole("button", { name: "Turn on" }).click();
		await p.locator(".field-error").getByText(/is wrong/).waitFor();
		await p.getByLabel("Code from the app").fill(hotp(st.secret, step));
		await p.getByRole("button", { name: "Turn on" }).click();
		const dlg = p.getByRole("dialog", { name: "Recovery codes" });
		await dlg.getByText("shown only once").waitFor();
		st.codes = (await dlg.locator("li").allTextContents()).map((s) => s.trim());
		assert.equal(st.codes.length, 10);
		for (const c of st.codes) assert.match(c, /^[0-9a-z]{5}-[0-9a-z]{5}$/);
		await shot(p, "totp-recovery-codes", { full: false });
		await dlg.getByRole("button", { name: "Copy recovery codes" }).click();
		assert.equal(await p.evaluate(() => navigator.clipboard.readText()), st.codes.join("\n"));
		await dlg.getByRole("button", { name: "I have saved them" }).click();
		await dlg.waitFor({ state: "detached" });
		await p.getByRole("heading", { name: "Two-factor sign-in is on" }).waitFor();
		assert.equal(await p.getByText(st.codes[0]).count(), 0, "the codes are shown once");
		st.step = step;
	});

	it("sign-in asks for the code after the password", async () => {
		await signOut(p);
		await password(p, "admin", "admin-pass-1");
		await p.getByRole("heading", { level: 1, name: "Two-factor sign-in" }).waitFor();
		await shot(p, "totp-signin");
		// the step the confirmation used is spent: the next one (skew +1) signs in
		p.expectStatus(401);
		await p.getByLabel("Authentication code").fill(hotp(st.secret, st.step));
		await p.getByRole("button", { name: "Verify" }).click();
		await p.locator(".field-error").getByText("Wrong code").waitFor();
		await p.getByLabel("Authentication code").fill(hotp(st.secret, (await stepNow()) + 1));
		await p.getByRole("button", { name: "Verify" }).click();
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
	});

	it("a recovery code signs in once, then two-factor sign-in is turned off", async () => {
		await signOut(p);
		await password(p, "admin", "admin-pass-1");
		await p.getByRole("button", { name: "Use a recovery code" }).click();
		await p.getByLabel("Recovery code").fill(st.codes[0]);
		await p.getByRole("button", { name: "Verify" }).click();
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		await p.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Two-factor", exact: true }).click();
		await p.getByText("Recovery codes left: 9.").waitFor();
		await p.getByLabel("Console password").fill("admin-pass-1");
		await p.getByRole("button", { name: "Turn off two-factor sign-in" }).click();
		await p.getByRole("button", { name: "Set up an authenticator" }).waitFor();
		await signOut(p);
		await password(p, "admin", "admin-pass-1");
		await p.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
	});
});

describe("admin page: login.require_2fa_for_admins", () => {
	let d2, b2, q;
	before(async () => {
		d2 = await new Daemon({ login: { require_2fa_for_admins: true } }).start();
		b2 = await launch();
		q = await openPage(b2, d2);
	});
	afterEach(() => q.check());
	after(async () => {
		if (b2) await b2.close();
		if (d2) await d2.stop();
	});

	it("an admin without a second factor is taken to the enrolment", async () => {
		await password(q, "admin", d2.adminPassword);
		await q.getByLabel("One-time password").fill(d2.adminPassword);
		await q.getByLabel("New password", { exact: true }).fill("admin-pass-1");
		await q.getByLabel("Confirm new password").fill("admin-pass-1");
		// the Profile page's reads answer 403 until the enrolment: the page moves on
		for (let i = 0; i < 3; i++) q.expectStatus(403);
		await q.getByRole("button", { name: "Set new password" }).click();
		await q.getByRole("heading", { level: 1, name: "Two-factor sign-in" }).waitFor();
		await q.getByText("Administrators must turn on two-factor sign-in").waitFor();
		await q.getByRole("button", { name: "Set up an authenticator" }).click();
		const secret = (await q.locator(".totp-secret").textContent()).replace(/\s/g, "");
		await q.getByLabel("Code from the app").fill(hotp(secret, await stepNow()));
		await q.getByRole("button", { name: "Turn on" }).click();
		await q.getByRole("button", { name: "I have saved them" }).click();
		await q.getByRole("heading", { name: "Two-factor sign-in is on" }).waitFor();
		await q.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Profile", exact: true }).click();
		await q.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
		await q.getByLabel("Display name").waitFor();
	});
});
