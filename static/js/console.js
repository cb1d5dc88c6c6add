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

// Row navigation in list tables (marked `data-row-nav`): ArrowDown/ArrowUp or j/k move a
// visible selection over the rows that have a link, Enter opens the selected row's first
// link. Keys typed in a form field are left alone; so are keys with a modifier.
(function () {
  var selected = null;

  var NOT_TYPED = ["checkbox", "radio", "button", "submit", "reset"];

  function typing(target) {
    var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (tag === "input" && NOT_TYPED.indexOf((target.type || "").toLowerCase()) !== -1) return false;
    return tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable);
  }

  function rows() {
    var table = document.querySelector("table[data-row-nav]");
    if (!table) return [];
    return Array.prototype.filter.call(table.querySelectorAll("tbody tr"), function (row) {
      return row.querySelector("a[href]") !== null;
    });
  }

  function select(row) {
    if (selected) {
      selected.classList.remove("row-selected");
      selected.removeAttribute("data-selected");
    }
    selected = row;
    row.classList.add("row-selected");
    row.setAttribute("data-selected", "true");
    // Focus the row's link: the selection is announced and Enter follows it natively.
    row.querySelector("a[href]").focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
    if (typing(event.target)) return;
    var down = event.key === "ArrowDown" || event.key === "j";
    var up = event.key === "ArrowUp" || event.key === "k";
    if (down || up) {
      var all = rows();
      if (!all.length) return;
      var at = selected ? all.indexOf(selected) : -1;
      var next = at === -1 ? (down ? 0 : all.length - 1) : Math.min(Math.max(at + (down ? 1 : -1), 0), all.length - 1);
      event.preventDefault();
      select(all[next]);
      return;
    }
    if (event.key === "Enter" && selected && document.body.contains(selected)) {
      var target = event.target;
      var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
      // A focused control acts itself (the selected row's link follows natively).
      if (tag === "a" || tag === "button" || tag === "input" || tag === "summary") return;
      event.preventDefault();
      window.location.assign(selected.querySelector("a[href]").href);
    }
  });

  // A click elsewhere clears the selection, so Enter is never taken from a person's focus.
  document.addEventListener("mousedown", function (event) {
    if (selected && !selected.contains(event.target)) {
      selected.classList.remove("row-selected");
      selected.removeAttribute("data-selected");
      selected = null;
    }
  });
})();
