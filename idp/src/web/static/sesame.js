// Sésame: the WebAuthn calls of the sign-up, sign-in, recovery and account
// pages. Options come from the provider as JSON (binary members base64url);
// results go back as JSON with the page's CSRF token in a header. Every
// failure ends in a readable message with a retry button.
(() => {
  "use strict";

  const block = document.getElementById("sesame-messages");
  const messages = block ? JSON.parse(block.textContent) : {};
  const t = (key) => messages[key] || key;
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute("content") : "";

  const toBuffer = (text) => {
    let s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const binary = atob(s);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  };
  const toText = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const supported = () =>
    typeof window.PublicKeyCredential === "function" && !!navigator.credentials && window.isSecureContext;

  class ShownError extends Error {
    constructor(message, fields, code) {
      super(message);
      this.name = "ShownError";
      this.fields = fields || null;
      this.code = code || null;
    }
  }

  async function postJson(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify(body),
      });
    } catch (_) {
      throw new ShownError(t("js.network"));
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok || !data) {
      throw new ShownError((data && data.error_description) || t("js.server"), data && data.fields, data && data.error);
    }
    return data;
  }

  const creationOptions = (json) => {
    const pk = json.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
    return pk;
  };
  const requestOptions = (json) => {
    const pk = json.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
    return pk;
  };
  const registrationJson = (cred) => ({
    id: cred.id,
    rawId: toText(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: toText(cred.response.attestationObject),
      clientDataJSON: toText(cred.response.clientDataJSON),
    },
    extensions: {},
  });
  const assertionJson = (cred) => ({
    id: cred.id,
    rawId: toText(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: toText(cred.response.authenticatorData),
      clientDataJSON: toText(cred.response.clientDataJSON),
      signature: toText(cred.response.signature),
      userHandle: cred.response.userHandle ? toText(cred.response.userHandle) : null,
    },
    extensions: {},
  });

  const explain = (error) => {
    if (error instanceof ShownError) return error.message;
    switch (error && error.name) {
      case "NotAllowedError": return t("js.not_allowed");
      case "AbortError": return t("js.aborted");
      case "InvalidStateError": return t("js.invalid_state");
      case "SecurityError": return t("js.security");
      case "NotSupportedError": return t("js.unsupported");
      default: return t("js.unknown");
    }
  };

  const statusBox = document.getElementById("ceremony-status");
  const statusText = document.getElementById("ceremony-message");
  const retryButton = document.getElementById("ceremony-retry");

  const showStatus = (text, isError, retry) => {
    if (!statusBox) return;
    statusBox.hidden = false;
    statusBox.classList.toggle("error", !!isError);
    statusText.textContent = text;
    retryButton.hidden = !retry;
    retryButton.onclick = retry ? () => { hideStatus(); retry(); } : null;
    if (retry) retryButton.focus();
  };
  const hideStatus = () => { if (statusBox) statusBox.hidden = true; };

  const clearFieldErrors = (form) => {
    form.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  };
  const showFieldErrors = (form, fields) => {
    Object.keys(fields || {}).forEach((name) => {
      const input = form.elements.namedItem(name);
      const slot = document.getElementById(name + "-error");
      if (!input || !slot) return;
      slot.textContent = fields[name];
      slot.hidden = false;
      input.setAttribute("aria-invalid", "true");
    });
    // Focus the first field in reading order, whose error is then read out.
    const first = form.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
    return !!first;
  };

  const go = (target) => {
    window.location.assign(typeof target === "string" && /^\/(?![/\\])/.test(target) ? target : "/account");
  };

  const value = (form, name) => {
    const input = form.elements.namedItem(name);
    return input ? input.value : "";
  };

  // What each form sends to start its ceremony, and which kind it is.
  const ceremonies = {
    signup: {
      start: "/signup/start",
      finish: "/signup/finish",
      create: true,
      body: (form) => ({
        given_name: value(form, "given_name"),
        family_name: value(form, "family_name"),
        email: value(form, "email"),
      }),
    },
    signin: { start: "/signin/start", finish: "/signin/finish", create: false, body: () => ({}) },
    "add-passkey": {
      start: "/account/passkeys/start",
      finish: "/account/passkeys/finish",
      create: true,
      body: (form) => ({ name: value(form, "passkey_name") }),
    },
    recover: {
      start: "/recover/start",
      finish: "/recover/finish",
      create: true,
      body: (form) => ({ identifier: value(form, "identifier"), code: value(form, "code") }),
    },
    // A passkey assertion before a sensitive change (the confirmation page).
    confirm: { start: "/account/confirm/start", finish: "/account/confirm/finish", create: false, body: () => ({}) },
    "assisted-recover": {
      start: "/recover/assisted/start",
      finish: "/recover/assisted/finish",
      create: true,
      body: (form) => ({ token: value(form, "token") }),
    },
  };

  let conditional = null; // AbortController of a pending autofill request

  async function run(form, kind) {
    const spec = ceremonies[kind];
    const button = form.querySelector('button[type="submit"]');
    const next = form.getAttribute("data-next") || "";
    clearFieldErrors(form);
    hideStatus();
    if (!supported()) {
      showStatus(t("js.unsupported"), true, null);
      return;
    }
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); }
    try {
      const options = await postJson(spec.start, spec.body(form));
      showStatus(t("js.waiting"), false, null);
      let credential;
      if (spec.create) {
        const created = await navigator.credentials.create({ publicKey: creationOptions(options) });
        credential = registrationJson(created);
      } else {
        const got = await navigator.credentials.get({ publicKey: requestOptions(options) });
        credential = assertionJson(got);
      }
      showStatus(t("js.checking"), false, null);
      const done = await postJson(spec.finish, { credential, next });
      const carried = kind === "confirm" && document.getElementById("confirm-continue");
      if (carried) carried.submit(); else go(done.redirect);
    } catch (error) {
      if (error instanceof ShownError && error.code === "confirmation_required" && kind !== "confirm") {
        // Confirm with a passkey first, then the same ceremony again.
        try {
          showStatus(t("js.confirm_first"), false, null);
          const options = await postJson("/account/confirm/start", {});
          const got = await navigator.credentials.get({ publicKey: requestOptions(options) });
          await postJson("/account/confirm/finish", { credential: assertionJson(got) });
          if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
          return run(form, kind);
        } catch (again) {
          showStatus(explain(again), true, () => run(form, kind));
          return;
        }
      }
      if (error instanceof ShownError && showFieldErrors(form, error.fields)) {
        hideStatus();
      } else {
        showStatus(explain(error), true, () => run(form, kind));
      }
    } finally {
      if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
    }
  }

  // Passkey autofill in the username field (conditional mediation).
  async function autofill(form) {
    if (!supported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return;
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    const controller = new AbortController();
    conditional = controller;
    try {
      const options = await postJson("/signin/start", {});
      const got = await navigator.credentials.get({
        publicKey: requestOptions(options),
        mediation: "conditional",
        signal: controller.signal,
      });
      if (controller.signal.aborted) return;
      showStatus(t("js.checking"), false, null);
      const done = await postJson("/signin/finish", {
        credential: assertionJson(got),
        next: form.getAttribute("data-next") || "",
      });
      go(done.redirect);
    } catch (error) {
      if (controller.signal.aborted || (error && error.name === "AbortError")) return;
      showStatus(explain(error), true, () => run(form, "signin"));
    }
  }

  document.querySelectorAll("form[data-ceremony]").forEach((form) => {
    const kind = form.getAttribute("data-ceremony");
    if (!ceremonies[kind]) return;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(form, kind);
    });
    if (!supported()) {
      showStatus(t("js.unsupported"), true, null);
    } else if (kind === "signin" && form.hasAttribute("data-autofill")) {
      autofill(form);
    }
  });
  // The commune list fills as one types; without script a code or an
  // exact name is typed, and the server reads either.
  document.querySelectorAll("input[data-commune-search]").forEach((input) => {
    const list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2 || /^[0-9]/.test(q)) return;
      timer = setTimeout(async () => {
        try {
          const response = await fetch("/account/identity/communes?q=" + encodeURIComponent(q), {
            credentials: "same-origin",
          });
          if (!response.ok) return;
          const found = await response.json();
          list.replaceChildren(...found.map((c) => {
            const option = document.createElement("option");
            option.value = c.label;
            return option;
          }));
        } catch (_) {
          // The typed value still works.
        }
      }, 200);
    });
  });
})();
