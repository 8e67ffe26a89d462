// Upload progress for the batch import form (htmx fires htmx:xhr:progress while sending).
document.body.addEventListener("htmx:xhr:progress", (event) => {
  const bar = document.getElementById("upload-progress");
  if (bar && event.detail.lengthComputable) {
    bar.style.width = `${Math.round((event.detail.loaded / event.detail.total) * 100)}%`;
  }
});
