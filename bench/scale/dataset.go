package main

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
)

// dataset is what a load writes and what the benchmark presents: keys 0 … Keys-1, each a
// business key of one of Orgs organizations (key i belongs to organization i mod Orgs) with
// the role member, and a token derived from Seed and i. The tokens are kept nowhere: the
// benchmark derives again the ones it presents.
type dataset struct {
	Keys int
	Orgs int
	Seed string
}

// keyRole is every loaded key's role on its organization: it may read it.
const keyRole = config.RoleMember

// keyPrefix is the prefix of the loaded keys' tokens: the default config's, which the
// benchmark's nodes run with.
var keyPrefix = config.Default().Tokens.KeyPrefix

// keyID is the id of key i.
func keyID(i int) string { return fmt.Sprintf("scale-%09d", i) }

// org is the id of the organization of key i.
func (d dataset) org(i int) string { return "o" + strconv.Itoa(i%d.Orgs) }

// orgRef is the resource of key i, as the API names it.
func (d dataset) orgRef(i int) string { return "organization/" + d.org(i) }

// token is key i's token: credential's own format, its random characters drawn from a ChaCha8
// stream seeded with SHA-256(seed, i). Only its hash is ever stored.
func (d dataset) token(i int) string {
	seed := sha256.Sum256([]byte("lanyard bench/scale\x00" + d.Seed + "\x00" + strconv.Itoa(i)))
	tok, err := credential.GenerateFrom(keyPrefix, rand.NewChaCha8(seed))
	if err != nil {
		panic(err) // a ChaCha8 stream never runs dry and the prefix is the config's
	}
	return tok
}
