// Security keys and passkeys: the page's buttons, the browser's WebAuthn API, our JSON endpoints.
// No build step and no CDN; without WebAuthn support the options stay hidden.

import { browserZone } from "./time_zone.js";

const supported = typeof window.PublicKeyCredential === "function";

export function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(value) {
  const padded = value.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((value.length + 3) % 4);
  const text = atob(padded);
  return Uint8Array.from(text, (c) => c.charCodeAt(0)).buffer;
}

function creationOptions(json) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

function requestOptions(json) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
  }
  return { id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type, response,
           clientExtensionResults: credential.getClientExtensionResults() };
}

// The page's language: the words come from the script tag's data attributes (base.html).
const words = document.querySelector("script[data-webauthn-messages]")?.dataset || {};
const FAILED = words.failed || "Something went wrong. Please try again.";

async function post(url, body) {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || FAILED);
  return data;
}

function showError(message) {
  const box = document.querySelector("[data-webauthn-error]");
  if (!box) return;
  box.textContent = message;
  box.hidden = false;
  box.focus?.();
}

function friendly(error) {
  if (error && error.name === "NotAllowedError") {
    return words.cancelled || "The request was cancelled or timed out. Please try again.";
  }
  if (error && error.name === "InvalidStateError") {
    return words.duplicate || "This security key or passkey is already registered.";
  }
  return (error && error.message) || FAILED;
}

function remembered() {
  const box = document.getElementById("remember");
  return Boolean(box && box.checked);
}

const ceremonies = {
  async register(button) {
    const options = await post(button.dataset.optionsUrl);
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    const name = (document.getElementById("key-name") || {}).value || words.keyName || "Security key";
    return post(button.dataset.finishUrl, { credential: credentialJSON(credential), name, remember: remembered() });
  },
  async authenticate(button) {
    const options = await post(button.dataset.optionsUrl);
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return post(button.dataset.finishUrl, {
      credential: credentialJSON(credential),
      remember: remembered(),
      time_zone: browserZone(),
    });
  },
};
ceremonies.passkey = ceremonies.authenticate;

for (const element of document.querySelectorAll("[data-webauthn-only]")) element.hidden = !supported;
for (const element of document.querySelectorAll("[data-webauthn-unsupported]")) element.hidden = supported;
// A field revealed just now may miss the browser's own autofocus pass.
if (document.activeElement === document.body) document.querySelector("[autofocus]:not([hidden] *)")?.focus();

// Passkey autofill (WebAuthn conditional mediation): the email field's suggestions list the
// passkeys this browser holds; choosing one signs in like the "Sign in with a passkey" button.
// The challenge lives 5 minutes, so a waiting request is renewed every 4; submitting the
// password form or pressing a passkey button ends it.
const RENEW_MS = 240_000;
let autofill = null;
let failures = 0;
// The options request in flight. Its answer sets only the passkey challenge cookie (no session),
// but the password form still waits for it: one request at a time from this page, so no
// answer arriving late can ever overwrite the cookies of the sign-in that just succeeded.
let optionsInFlight = null;

async function conditionalAvailable() {
  if (!supported || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return false;
  try {
    return await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

function startAutofill(field) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort("renew"), RENEW_MS);
  autofill = controller;
  (async () => {
    optionsInFlight = post(field.dataset.optionsUrl);
    const options = await optionsInFlight.finally(() => {
      optionsInFlight = null;
    });
    const credential = await navigator.credentials.get({
      mediation: "conditional",
      publicKey: requestOptions(options),
      signal: controller.signal,
    });
    const result = await post(field.dataset.finishUrl, {
      credential: credentialJSON(credential),
      time_zone: browserZone(),
    });
    window.location.assign(result.redirect);
  })().catch((error) => {
    clearTimeout(timer);
    if (controller.signal.aborted && controller.signal.reason !== "renew") return;
    if (!controller.signal.aborted) {
      // NotAllowedError is the browser ending the wait with no passkey chosen (none held, or
      // the prompt dismissed): the user asked for nothing, so nothing is said and the focus stays.
      if (error?.name === "NotAllowedError") return; // the browser ended it: no new request
      showError(friendly(error));
      failures += 1;
    }
    // After a refusal the next passkey chosen needs a fresh challenge; give up after three.
    if (autofill === controller && failures < 3) startAutofill(field);
  });
}

function stopAutofill() {
  const controller = autofill;
  autofill = null;
  controller?.abort("stopped");
}

for (const button of document.querySelectorAll("[data-webauthn]")) {
  button.addEventListener("click", async () => {
    stopAutofill();
    button.disabled = true;
    try {
      const result = await ceremonies[button.dataset.webauthn](button);
      window.location.assign(result.redirect);
    } catch (error) {
      showError(friendly(error));
      button.disabled = false;
    }
  });
}

const autofillField = document.querySelector("[data-passkey-autofill]");
if (autofillField) {
  conditionalAvailable().then((available) => {
    if (!available) return;
    autofillField.form?.addEventListener("submit", (event) => {
      stopAutofill();
      const pending = optionsInFlight;
      if (!pending) return;
      event.preventDefault(); // sent once the options answer (and its cookie) is in
      pending.catch(() => {}).finally(() => event.target.requestSubmit(event.submitter));
    });
    startAutofill(autofillField);
  });
}
