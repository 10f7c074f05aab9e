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
