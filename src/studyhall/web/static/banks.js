// Question-bank pages: add/remove editor rows, move items up and down, guess the import
// format from the file name. The pages work without it (fixed empty rows, the format select).
(() => {
  "use strict";

  const live = (message) => {
    const region = document.querySelector("[data-live]");
    if (region) {
      region.textContent = "";
      // A fresh text node each time, so repeating the same message is announced again.
      window.setTimeout(() => { region.textContent = message; }, 50);
    }
  };

  const rowsOf = (container) => [...container.children].filter((el) => el.matches("[data-row]"));
  const firstField = (row) => row.querySelector("input:not([type=hidden]), textarea, select");

  // Ids and labels follow the row's position: "choice-0-text" is the first choice's text.
  const renumber = (container) => {
    const prefix = container.dataset.rows;
    rowsOf(container).forEach((row, index) => {
      row.querySelectorAll("[data-row-number]").forEach((el) => { el.textContent = String(index + 1); });
      row.querySelectorAll("[data-id]").forEach((el) => { el.id = `${prefix}-${index}-${el.dataset.id}`; });
      row.querySelectorAll("label[data-for]").forEach((el) => { el.htmlFor = `${prefix}-${index}-${el.dataset.for}`; });
    });
  };

  const showJsOnly = (root) => {
    root.querySelectorAll("[data-js-only]").forEach((el) => { el.hidden = false; });
  };

  const addRow = (button) => {
    const prefix = button.dataset.addRow;
    const container = document.querySelector(`[data-rows="${prefix}"]`);
    const template = document.getElementById(`${prefix}-row-template`);
    if (!container || !template) return;
    const row = template.content.firstElementChild.cloneNode(true);
    showJsOnly(row);
    container.append(row);
    renumber(container);
    const field = firstField(row);
    if (field) field.focus();
  };

  const removeRow = (button) => {
    const row = button.closest("[data-row]");
    const container = row && row.parentElement;
    if (!row || !container) return;
    const rows = rowsOf(container);
    const index = rows.indexOf(row);
    const legend = row.querySelector("legend");
    const name = legend ? legend.textContent.trim() : "Row";
    row.remove();
    renumber(container);
    const remaining = rowsOf(container);
    const next = remaining[Math.min(index, remaining.length - 1)];
    const field = next && firstField(next);
    if (field) {
      field.focus();
    } else {
      const add = document.querySelector(`[data-add-row="${container.dataset.rows}"]`);
      if (add) add.focus();
    }
    live(`${name} removed`);
  };

  const itemLabel = (item) => {
    const field = firstField(item);
    if (field) return field.value.trim() || "Empty item";
    return item.dataset.label || item.textContent.trim();
  };

  const moveItem = (button) => {
    const item = button.closest("[data-sortable-item]");
    const container = item && item.parentElement;
    if (!item || !container) return;
    const items = () => [...container.children].filter((el) => el.matches("[data-sortable-item]"));
    const index = items().indexOf(item);
    const up = button.dataset.move === "up";
    const label = itemLabel(item);
    if ((up && index === 0) || (!up && index === items().length - 1)) {
      live(`${label} is already ${up ? "first" : "last"}`);
      return;
    }
    if (up) {
      container.insertBefore(item, items()[index - 1]);
    } else {
      container.insertBefore(items()[index + 1], item);
    }
    if (container.dataset.rows) renumber(container);
    button.focus(); // moving the node drops focus in some browsers
    live(`${label}: position ${items().indexOf(item) + 1} of ${items().length}`);
  };

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button") : null;
    if (!button) return;
    if (button.dataset.addRow !== undefined) {
      addRow(button);
    } else if (button.dataset.removeRow !== undefined) {
      removeRow(button);
    } else if (button.dataset.move !== undefined) {
      moveItem(button);
    }
  });

  // Import: pick the format that matches the file's extension (the select stays editable).
  const file = document.getElementById("import-file");
  const format = document.getElementById("import-format");
  if (file && format) {
    file.addEventListener("change", () => {
      const name = file.files && file.files[0] ? file.files[0].name.toLowerCase() : "";
      if (name.endsWith(".xml")) format.value = "moodlexml";
      else if (name.endsWith(".gift")) format.value = "gift";
    });
  }

  showJsOnly(document);
  document.querySelectorAll("[data-rows]").forEach(renumber);
})();
