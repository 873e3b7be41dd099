package credential

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsNoLanyardPackage keeps credential a leaf: token formats, hashes and passwords are
// pure functions that every other package may use, so credential (and its own tests) may import
// the standard library and third-party modules, never another lanyard package. A store type it
// needs is spelled out ([32]byte) and aliased on the store's side.
func TestImportsNoLanyardPackage(t *testing.T) {
	const module = "github.com/lanyardhq/lanyard"
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.GoFiles) == 0 {
		t.Fatal("found no Go files: the test does not look at the credential package")
	}
	for _, imports := range [][]string{pkg.Imports, pkg.TestImports} {
		for _, path := range imports {
			if path == module || strings.HasPrefix(path, module+"/") {
				t.Errorf("credential imports %s; it may import no lanyard package", path)
			}
		}
	}
}
