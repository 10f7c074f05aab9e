package main

import (
	"encoding/json"
	"io"
)

// writeJSON writes v as indented JSON followed by a newline. HTML characters stay as they are:
// the output goes to programs and people, not into web pages.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// emit prints a command's result: v as JSON with --output json, else what text writes for
// people. Commands with more formats than these two switch on a.format themselves.
func (a *app) emit(v any, text func(io.Writer) error) error {
	if a.format == "json" {
		return writeJSON(a.stdout, v)
	}
	return text(a.stdout)
}
