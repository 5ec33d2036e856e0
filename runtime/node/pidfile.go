package node

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/zonesync/zonesync/directives"
)

// PidPath returns the pid file the configuration names.
func PidPath(cfg *directives.Config) string {
	pid, _ := cfg.Main.Get("pid").(string)
	return cfg.Path(pid, false)
}

func writePidFile(cfg *directives.Config) error {
	path := PidPath(cfg)
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf(`open() "%s" failed (%s)`, path, directives.ErrnoText(err))
	}
	return nil
}

func removePidFile(cfg *directives.Config) { os.Remove(PidPath(cfg)) }

// signals are -s's names.
var signals = map[string]syscall.Signal{
	"stop": syscall.SIGTERM, "quit": syscall.SIGQUIT, "reopen": syscall.SIGUSR1, "reload": syscall.SIGHUP,
}

// Signal sends -s's signal to the node whose pid file cfg names, with
// nginx's messages when it cannot.
func Signal(cfg *directives.Config, name string) error {
	path := PidPath(cfg)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf(`open() "%s" failed (%s)`, path, directives.ErrnoText(err))
	}
	text := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(text)
	if err != nil || pid <= 0 {
		return fmt.Errorf(`invalid PID number "%s" in "%s"`, text, path)
	}
	sig := signals[name]
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf(`kill(%d, %d) failed (%s)`, pid, int(sig), directives.ErrnoText(err))
	}
	return nil
}
