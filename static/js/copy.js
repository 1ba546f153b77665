// Copy buttons: <button class="copy" data-copy="ID" data-copied="Copied"> puts the text of #ID (an input's value)
// on the clipboard. Without a clipboard (a plain-HTTP page on another host is no secure context) the text is
// selected instead, for Ctrl+C.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy[data-copy]");
  const source = button && document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.tagName === "INPUT" ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    if (source.tagName === "INPUT") {
      source.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
    }
    return;
  }
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = button.dataset.copied || "Copied";
  button.classList.add("copied");
  setTimeout(() => {
    button.textContent = label;
    button.classList.remove("copied");
  }, 2000);
});
