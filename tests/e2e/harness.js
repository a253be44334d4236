// Browser test harness: starts the real acctd ($ACCTD_BIN, default
// build/host/acctd) on a free loopback port with a temp data dir and config,
// and Debian's Chromium through playwright-core. Every page it opens fails
// the test on a console error, an uncaught exception or a CSP violation,
// unless the test said it expects that exact HTTP error status.
"use strict";
const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.ACCTD_BIN || path.join(ROOT, "build", "host", "acctd");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = path.join(ROOT, "build", "screenshots");

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.once("error", reject);
		s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
	});
}

// libconfig text from a plain object: objects are groups, arrays of objects lists
function confText(o) {
	const val = (v) => {
		if (typeof v === "boolean" || typeof v === "number") return String(v);
		if (typeof v === "string") return JSON.stringify(v);
		if (Array.isArray(v)) return v.length && typeof v[0] === "object" ? "( " + v.map(val).join(", ") + " )" : "[ " + v.map(val).join(", ") + " ]";
		return "{ " + Object.entries(v).map(([k, x]) => k + " = " + val(x) + ";").join(" ") + " }";
	};
	return Object.entries(o).map(([k, v]) => k + " = " + val(v) + ";\n").join("");
}

class Daemon {
	constructor(extra = {}) {
		this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "acctd-e2e-"));
		this.extra = extra;
		this.log = [];
	}

	async start() {
		execFileSync(path.join(ROOT, "tools", "mkcert.sh"), [path.join(this.dir, "tls"), "acctd e2e"]);
		this.port = await freePort();
		this.url = "https://127.0.0.1:" + this.port;
		const data = path.join(this.dir, "data");
		const settings = Object.assign({
			listen: ["127.0.0.1:" + this.port],
			tls: { cert: path.join(this.dir, "tls.crt"), key: path.join(this.dir, "tls.key") },
			data_dir: data,
			user: "",
			log_level: "info",
			passwords: { pbkdf2_iterations: 1000 },
			bootstrap_admin: { handle: "admin", email: "admin@localhost", password_file: path.join(data, "admin.password") },
			dns: { domain: "ws.test", hosts_file: path.join(this.dir, "ws.hosts") },
			// never reached: the pinned and client certificates only have to load
			nodes: [{ name: "node1", url: "https://127.0.0.1:9443", cert: path.join(this.dir, "tls.crt") }],
			push: { client_cert: path.join(this.dir, "tls.crt"), client_key: path.join(this.dir, "tls.key") },
			workspaces: [{ handle: "prod", owner: "alice", node: "node1", database: "dea4px", port: 9193 }],
		}, this.extra);
		this.conf = path.join(this.dir, "acctd.conf");
		fs.writeFileSync(this.conf, confText(settings));
		this.proc = spawn(BIN, ["-c", this.conf], { stdio: ["ignore", "ignore", "pipe"] });
		const proc = this.proc;
		process.once("exit", () => { if (proc.exitCode === null) proc.kill("SIGKILL"); });
		await new Promise((resolve, reject) => {
			let buf = "";
			const timer = setTimeout(() => reject(new Error("acctd not ready after 30 s:\n" + this.log.join("\n"))), 30000);
			this.proc.stderr.on("data", (chunk) => {
				buf += chunk;
				let i;
				while ((i = buf.indexOf("\n")) >= 0) {
					const line = buf.slice(0, i);
					buf = buf.slice(i + 1);
					this.log.push(line);
					if (line.includes("acctd: ready on ")) { clearTimeout(timer); resolve(); }
				}
			});
			this.proc.once("exit", (code) => { clearTimeout(timer); reject(new Error("acctd exited " + code + " before ready:\n" + this.log.join("\n"))); });
		});
		this.adminPassword = fs.readFileSync(path.join(data, "admin.password"), "utf8").split("\n")[0].trim();
		return this;
	}

	// one API request from the test itself (not the page), verifying the test certificate
	request(method, p, { headers = {}, body } = {}) {
		const https = require("node:https");
		return new Promise((resolve, reject) => {
			const req = https.request(this.url + p, { method, headers, ca: fs.readFileSync(path.join(this.dir, "tls.crt")) }, (res) => {
				let data = "";
				res.setEncoding("utf8");
				res.on("data", (c) => { data += c; });
				res.on("end", () => {
					let json = null;
					try { json = JSON.parse(data); } catch (e) { /* not JSON */ }
					resolve({ status: res.statusCode, headers: res.headers, body: data, json });
				});
			});
			req.on("error", reject);
			if (body !== undefined) { req.setHeader("Content-Type", "application/json"); req.end(JSON.stringify(body)); } else req.end();
		});
	}

	async stop() {
		if (this.proc && this.proc.exitCode === null) {
			const exited = new Promise((r) => this.proc.once("exit", r));
			this.proc.kill("SIGTERM");
			const t = setTimeout(() => this.proc.kill("SIGKILL"), 15000);
			await exited;
			clearTimeout(t);
		}
		fs.rmSync(this.dir, { recursive: true, force: true });
	}
}

async function launch(extraArgs = []) {
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync"].concat(extraArgs),
	});
}

// A fresh browser context (its own cookies and sessionStorage) and one page
// watched for console errors, page errors and CSP violations.
async function openPage(browser, daemon, opt = {}) {
	const context = await browser.newContext({
		ignoreHTTPSErrors: true,
		viewport: opt.viewport || { width: 1280, height: 800 },
		colorScheme: opt.colorScheme || "light",
	});
	await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: daemon.url });
	context.setDefaultTimeout(+process.env.E2E_TIMEOUT || 10000);
	const page = await context.newPage();
	const problems = [];
	const expected = [];             // HTTP statuses the test expects the page to receive
	await page.addInitScript(() => {
		document.addEventListener("securitypolicyviolation", (e) => {
			console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
		});
	});
	page.on("console", (m) => {
		if (m.type() !== "error") return;
		const text = m.text();
		const st = /^Failed to load resource: the server responded with a status of (\d+)/.exec(text);
		const url = (m.location() && m.location().url) || "";
		// GET /actor is how the page learns whether it is signed in (and a
		// second tab its CSRF token): its 401 on a signed-out load is the answer
		if (st && +st[1] === 401 && url === daemon.url + "/api/v0/actor") return;
		if (st && url.startsWith(daemon.url + "/api/v0/")) {
			const i = expected.indexOf(+st[1]);
			if (i >= 0) { expected.splice(i, 1); return; }
		}
		problems.push("console error: " + text + (url ? " (" + url + ")" : ""));
	});
	page.on("pageerror", (e) => problems.push("page error: " + e.message));
	page.problems = problems;
	// the next API answer with this status is expected, not a failure
	page.expectStatus = (status) => expected.push(status);
	page.check = () => {
		if (problems.length) throw new Error("the page reported problems:\n" + problems.join("\n"));
	};
	await page.goto(daemon.url + "/");
	return page;
}

// build/screenshots/NAME-WxH.png: the whole page, or only the viewport
// (for an open dialog); a passing toast is hidden so it covers nothing
async function shot(page, name, { full = true } = {}) {
	fs.mkdirSync(SHOTS, { recursive: true });
	const vp = page.viewportSize();
	const file = path.join(SHOTS, name + "-" + vp.width + "x" + vp.height + ".png");
	await page.evaluate(() => { const t = document.getElementById("toast"); if (t) t.classList.remove("show"); });
	await page.screenshot({ path: file, fullPage: full, animations: "disabled" });
	return file;
}

// sign in through the page's form and wait for the page behind it
async function signIn(p, handle, password) {
	await p.getByLabel("Handle").fill(handle);
	await p.getByLabel("Console password").fill(password);
	await p.getByRole("button", { name: "Sign in" }).click();
	await p.getByRole("heading", { level: 1 }).filter({ hasNotText: "Sign in" }).waitFor();
}

module.exports = { Daemon, launch, openPage, shot, signIn, SHOTS };

// --- accessibility: axe-core (WCAG 2.1 A and AA) in the page ----------------
// axe is evaluated through the DevTools protocol, which the page's CSP does
// not govern, so the page keeps its strict policy while it is checked.
const AXE_SRC = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

// the violations in the page as it is now: [{id, impact, nodes: [target…]}]
async function axeScan(page) {
	if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SRC + "\n;0");
	return page.evaluate(async (tags) => {
		const r = await window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
		return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ") + " — " + n.failureSummary.split("\n").slice(1).join(" ").slice(0, 200)) }));
	}, AXE_TAGS);
}

module.exports.axeScan = axeScan;
