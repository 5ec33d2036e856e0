// Package conformance holds the corpus that pins zonesync's -t and -T
// output to nginx's: one folder per case under cases/, each with its
// configuration and the golden output recorded from real nginx (or written
// by hand for NGINX Plus directives). The tests in this package run the
// corpus through nginx (to check the recordings) and through zonesync (to
// check the implementation). See README.md.
package conformance
