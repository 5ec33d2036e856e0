package main

// sendSignal is -s: it will find the running node through its pid file.
func sendSignal(log *termLog, prefix, confFile string, o *options) int {
	log.Term("signals are not supported by this build yet (-s %s)", o.signal)
	return 1
}
