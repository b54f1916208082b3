import { h, uid } from "./dom.js";
import { errorText, fieldSentence, type ErrorText } from "./error-text.js";

export interface Field {
  /** The proto field name the server uses in ValidationError (e.g. "full_name"). */
  name: string;
  input: HTMLInputElement | HTMLSelectElement;
  error: HTMLElement;
  row: HTMLElement;
}

export interface FieldOptions {
  type?: string;
  autocomplete?: string;
  required?: boolean;
  value?: string;
  hint?: string;
  options?: { value: string; label: string }[];
}

/** A labelled input with its own error line, wired with aria-describedby so screen readers read the error with the field. */
export function field(name: string, label: string, options: FieldOptions = {}): Field {
  const id = uid(name);
  const errorId = `${id}-error`;
  const hintId = options.hint === undefined ? undefined : `${id}-hint`;
  const input =
    options.options === undefined
      ? h("input", {
          id,
          name,
          type: options.type ?? "text",
          autocomplete: options.autocomplete ?? "off",
          required: options.required,
          value: options.value,
          "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
        })
      : h(
          "select",
          { id, name, "aria-describedby": errorId },
          ...options.options.map((o) => h("option", { value: o.value, selected: o.value === options.value }, o.label)),
        );
  const error = h("p", { id: errorId, class: "field-error", "data-testid": `field-error-${name}`, hidden: true });
  const row = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label, options.required ? h("span", { "aria-hidden": "true" }, " *") : null),
    input,
    hintId === undefined ? null : h("p", { id: hintId, class: "hint" }, options.hint),
    error,
  );
  return { name, input, error, row };
}

export interface FormFeedback {
  /** The summary line above the submit button (role=alert for errors). */
  summary: HTMLElement;
  /** Shows a failed call: the summary and, per named field, the message beside it; focuses the first bad field. */
  showError(error: unknown): ErrorText;
  showSuccess(message: string): void;
  clear(): void;
  /** Disables the submit button while a call runs. */
  busy(on: boolean): void;
}

export function formFeedback(form: HTMLFormElement, fields: Field[]): FormFeedback {
  const summary = h("p", { class: "form-summary", "data-testid": "form-message", "aria-live": "polite" });
  const clear = () => {
    summary.textContent = "";
    summary.className = "form-summary";
    summary.removeAttribute("role");
    for (const f of fields) {
      f.error.hidden = true;
      f.error.textContent = "";
      f.input.removeAttribute("aria-invalid");
    }
  };
  return {
    summary,
    clear,
    showError(error) {
      clear();
      const text = errorText(error);
      let first: Field | undefined;
      for (const f of fields) {
        const message = text.fields.get(f.name);
        if (message === undefined) continue;
        f.error.textContent = fieldSentence(f.name, message);
        f.error.hidden = false;
        f.input.setAttribute("aria-invalid", "true");
        first ??= f;
      }
      summary.textContent = text.message;
      summary.className = "form-summary error";
      summary.setAttribute("role", "alert");
      first?.input.focus();
      return text;
    },
    showSuccess(message) {
      clear();
      summary.textContent = message;
      summary.className = "form-summary ok";
    },
    busy(on) {
      for (const button of form.querySelectorAll("button")) button.disabled = on;
      form.setAttribute("aria-busy", String(on));
    },
  };
}

/** The trimmed value of a field. */
export function valueOf(f: Field): string {
  return f.input.value.trim();
}
