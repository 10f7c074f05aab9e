package piv

// SelfSigned gives the external tests (package piv_test) the throw-away
// certificate of the parser tests.
var SelfSigned = selfSigned
