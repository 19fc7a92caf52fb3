// Security keys and passkeys: the page's buttons, the browser's WebAuthn API, our JSON endpoints.
// No build step and no CDN; without WebAuthn support the options stay hidden.

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

async function post(url, body) {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || "Something went wrong. Please try again.");
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
    return "The request was cancelled or timed out. Please try again.";
  }
  if (error && error.name === "InvalidStateError") {
    return "This security key or passkey is already registered.";
  }
  return (error && error.message) || "Something went wrong. Please try again.";
}

function remembered() {
  const box = document.getElementById("remember");
  return Boolean(box && box.checked);
}

const ceremonies = {
  async register(button) {
    const options = await post(button.dataset.optionsUrl);
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    const name = (document.getElementById("key-name") || {}).value || "Security key";
    return post(button.dataset.finishUrl, { credential: credentialJSON(credential), name, remember: remembered() });
  },
  async authenticate(button) {
    const options = await post(button.dataset.optionsUrl);
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return post(button.dataset.finishUrl, { credential: credentialJSON(credential), remember: remembered() });
  },
};
ceremonies.passkey = ceremonies.authenticate;

for (const element of document.querySelectorAll("[data-webauthn-only]")) element.hidden = !supported;
for (const element of document.querySelectorAll("[data-webauthn-unsupported]")) element.hidden = supported;
// A field revealed just now may miss the browser's own autofocus pass.
if (document.activeElement === document.body) document.querySelector("[autofocus]:not([hidden] *)")?.focus();

for (const button of document.querySelectorAll("[data-webauthn]")) {
  button.addEventListener("click", async () => {
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
