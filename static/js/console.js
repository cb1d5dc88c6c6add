// Console keyboard shortcuts (a file, not inline: the CSP allows only our own scripts).
// "/" focuses the navigation's search box unless the person is typing somewhere.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
  if (tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable)) return;
  var search = document.getElementById("nav-search");
  if (!search) return;
  event.preventDefault();
  search.focus();
  search.select();
});
