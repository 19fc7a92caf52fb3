// Copy buttons: <button data-copy="#id" data-copied="Copied">; the text of #id, spaces removed,
// goes to the clipboard. Hidden until the Clipboard API is there (no inline script: CSP).

for (const button of document.querySelectorAll("button[data-copy]")) {
  if (!navigator.clipboard) continue;
  const source = document.querySelector(button.dataset.copy);
  const status = document.querySelector(button.dataset.copyStatus);
  if (!source) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.replace(/\s+/g, ""));
      if (status) status.textContent = button.dataset.copied;
    } catch {
      if (status) status.textContent = button.dataset.failed;
    }
  });
}
