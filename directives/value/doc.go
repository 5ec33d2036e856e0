// Package value turns the text of a directive argument into a typed value
// using the same acceptance rules as nginx 1.22: sizes and offsets with
// k/m/g suffixes, times built from unit groups, plain numbers, on/off flags,
// limit_req rates, listen and upstream addresses, and allow/deny address
// blocks.
//
// Every function is pure: no I/O, no name resolution, no global state. A
// rejected value yields an *Error whose Text is the fixed wording nginx uses
// for that failure; the directive setter that called the function adds the
// directive name, the argument and the position the way nginx's own caller
// does (each function's comment says how).
package value
