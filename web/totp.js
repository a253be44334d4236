/* acctd admin page, issue 15 part B: two-factor sign-in (TOTP).
 * Settings → Two-factor (enrol with a QR code drawn here from the otpauth
 * URI by the vendored qrcode-generator, confirm, recovery codes shown once,
 * turn off) and the sign-in's second step. Loaded by app.js when first
 * needed (part("totp")), and web/qrcode.js only for an enrolment. */
"use strict";
(() => {
const P = window.acctdPage;
const { h, api, field, input, fieldError, formAlert, clearErrors, showError, busy, button, card } = P;
const SVG = "http://www.w3.org/2000/svg";

/* the QR code of text as an SVG of dark squares (no data: URL, no inline
 * style: the Content-Security-Policy allows neither) */
function qrSvg(text, label) {
	const qr = window.qrcode(0, "M");
	qr.addData(text);
	qr.make();
	const n = qr.getModuleCount(), m = 4, svg = document.createElementNS(SVG, "svg");
	svg.setAttribute("viewBox", "0 0 " + (n + 2 * m) + " " + (n + 2 * m));
	svg.setAttribute("class", "totp-qr");
	svg.setAttribute("role", "img");
	svg.setAttribute("aria-label", label);
	const bg = document.createElementNS(SVG, "rect");
	bg.setAttribute("width", n + 2 * m);
	bg.setAttribute("height", n + 2 * m);
	bg.setAttribute("fill", "#fff");
	svg.append(bg);
	let d = "";
	for (let r = 0; r < n; r++)
		for (let c = 0; c < n; c++)
			if (qr.isDark(r, c)) d += "M" + (c + m) + " " + (r + m) + "h1v1h-1z";
	const path = document.createElementNS(SVG, "path");
	path.setAttribute("d", d);
	path.setAttribute("fill", "#000");
	svg.append(path);
	return svg;
}

function codeInput(name) {
	return input(name, { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: 6, required: true });
}

/* the ten recovery codes, shown once: only "I have saved them" closes it */
function showCodes(codes, after) {
	const done = button("I have saved them", { class: "btn primary" });
	const text = codes.join("\n");
	const d = P.dialog("Recovery codes",
		h("p", {}, "Each code signs you in once when you do not have your authenticator. Keep them somewhere safe, apart from your phone."),
		h("p", { class: "warning" }, "These codes are shown only once."),
		h("ol", { class: "totp-codes mono" }, codes.map((c) => h("li", {}, c))),
		h("div", { class: "actions" }, P.copyButton("Copy recovery codes", async () => text), done));
	P.keepOpen(d);
	done.addEventListener("click", () => { d.close(); if (after) after(); });
	done.focus();
}

/* Settings → Two-factor */
async function view(c, gen) {
	const path = P.U() + "/totp";
	let st;
	try { st = await api("GET", path); } catch (e) { P.loadError(c, e); return; }
	if (P.stale(gen)) return;
	const redraw = () => { c.querySelectorAll(".card").forEach((x) => x.remove()); view(c, P.S.gen); };
	if (st.state === "on") {
		c.append(card("Two-factor sign-in is on",
			h("p", {}, "Sign-in asks for a code from your authenticator after the password. Recovery codes left: " + st.recovery_codes_left + "."),
			offForm(path, redraw)));
		return;
	}
	const note = st.required ? h("p", { class: "warning", role: "status" }, "Administrators must turn on two-factor sign-in before they can use this page.") : null;
	const start = button(st.state === "pending" ? "Start again with a new secret" : "Set up an authenticator", { class: "btn primary" });
	const alert = formAlert();
	const area = h("div", { class: "totp-enrol" });
	c.append(card("Two-factor sign-in", note,
		h("p", {}, "Protect your console sign-in with a code from an authenticator app (RFC 6238 TOTP) after your password."),
		alert, area, h("div", { class: "actions start" }, start)));
	start.addEventListener("click", () => busy(start, async () => {
		try {
			const r = await api("POST", path);
			area.replaceChildren(...await enrolView(r, path, redraw));
			start.textContent = "Start again with a new secret";
			start.className = "btn";
			area.querySelector("input").focus();
		} catch (e) { showError(e, null, alert); }
	}));
}

/* the pending secret as a QR code and as text, and the confirmation form */
async function enrolView(r, path, redraw) {
	await P.part("qrcode");
	const code = codeInput("code");
	const alert = formAlert();
	const save = h("button", { type: "submit", class: "btn primary" }, "Turn on");
	const form = h("form", { novalidate: true }, field("Code from the app", code, "6 digits; it changes every 30 seconds."), alert,
		h("div", { class: "actions start" }, save));
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(form, alert);
		if (!/^[0-9]{6}$/.test(code.value.trim())) { fieldError(code, "Enter the 6 digits the app shows"); code.focus(); return; }
		busy(save, async () => {
			try {
				const ok = await api("POST", path + "/confirm", { code: code.value.trim() });
				showCodes(ok.recovery_codes, () => { P.toast("Two-factor sign-in is on"); redraw(); });
			} catch (e) { showError(e, form, alert); }
		});
	});
	return [h("p", {}, "Scan this code with your authenticator app, or type the secret below into it:"),
		qrSvg(r.uri, "QR code of the two-factor secret for " + P.S.user.handle),
		h("p", { class: "sub" }, "Secret"), h("p", { class: "secret mono totp-secret" }, r.secret.replace(/(.{4})/g, "$1 ").trim()),
		form];
}

function offForm(path, redraw) {
	const pw = input("password", { type: "password", autocomplete: "current-password", maxlength: 1024 });
	const alert = formAlert();
	const off = h("button", { type: "submit", class: "btn danger" }, "Turn off two-factor sign-in");
	const form = h("form", { novalidate: true }, field("Console password", pw, "To turn it off, confirm with your password."), alert,
		h("div", { class: "actions start" }, off));
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(form, alert);
		if (!pw.value) { fieldError(pw, "Enter your console password"); pw.focus(); return; }
		busy(off, async () => {
			try {
				await api("DELETE", path, { password: pw.value });
				P.toast("Two-factor sign-in is off");
				redraw();
			} catch (e) { showError(e, form, alert); }
		});
	});
	return form;
}

/* the sign-in's second step: a code or a recovery code for the ticket */
function signIn(ticket) {
	const alert = formAlert();
	let recovery = false;
	const code = codeInput("code");
	const rc = input("recovery_code", { autocomplete: "off", maxlength: 20 });
	const codeField = field("Authentication code", code, "The 6 digits your authenticator app shows.");
	const rcField = field("Recovery code", rc, "One of the codes you saved when you turned two-factor sign-in on.");
	rcField.hidden = true;
	const submit = h("button", { type: "submit", class: "btn primary wide" }, "Verify");
	const swap = button("Use a recovery code", { class: "btn link" });
	const form = h("form", { class: "card signin", novalidate: true },
		h("img", { src: P.LOGO, alt: "", width: 48, height: 48, class: "signin-logo" }),
		h("h1", { tabindex: "-1" }, "Two-factor sign-in"), codeField, rcField, alert, submit, swap);
	swap.addEventListener("click", () => {
		recovery = !recovery;
		codeField.hidden = recovery;
		rcField.hidden = !recovery;
		swap.textContent = recovery ? "Use the authenticator app" : "Use a recovery code";
		(recovery ? rc : code).focus();
	});
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(form, alert);
		const inp = recovery ? rc : code;
		const v = inp.value.trim();
		if (!recovery && !/^[0-9]{6}$/.test(v)) { fieldError(code, "Enter the 6 digits the app shows"); code.focus(); return; }
		if (recovery && !v) { fieldError(rc, "Enter a recovery code"); rc.focus(); return; }
		busy(submit, async () => {
			try {
				const r = await api("POST", "/login/totp", recovery ? { ticket, recovery_code: v } : { ticket, code: v }, { login: true });
				P.setSession(r.user, r.csrf_token);
				P.S.focusTitle = true;
				P.route();
			} catch (e) {
				if (e.status === 401 && /sign in again/.test(e.message)) { P.S.msg = "The sign-in took too long; sign in again."; P.route(); return; }
				if (e.status === 401) { fieldError(inp, recovery ? "Wrong recovery code" : "Wrong code"); inp.select(); return; }
				showError(e, form, alert);
			}
		}, "Verifying…");
	});
	P.main.replaceChildren(h("div", { class: "signin-wrap" }, form));
	code.focus();
}

window.acctdParts.totp = { signIn, view };
})();
