package middleware

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the public package light, as tailscale's deptest does: a service that
// imports it pulls in nothing beyond the standard library — above all no database driver and no
// Redis client, which lanyard's internal packages bring. Only the package itself is checked, not
// its tests (an end-to-end test may start a whole lanyard).
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	self := "github.com/lanyardhq/lanyard/middleware"
	denied := []string{"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/redis/go-redis", "github.com/lanyardhq/lanyard/internal/"}
	var found bool
	for _, dep := range strings.Fields(string(out)) {
		if dep == self {
			found = true
			continue
		}
		for _, d := range denied {
			if strings.HasPrefix(dep, d) {
				t.Errorf("middleware depends on %s", dep)
			}
		}
		t.Errorf("middleware depends on %s, which is not in the standard library", dep)
	}
	if !found {
		t.Fatalf("go list did not list %s: the test looks at another package\n%s", self, out)
	}
}
