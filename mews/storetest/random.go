package storetest

import (
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"
)

// seedEnv names the environment variable that replays a random test: set it
// to the seed that a failed run logged.
const seedEnv = "STORETEST_SEED"

// newRand returns a random source for one test, with its seed logged.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv(seedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, s, err)
		}
	}
	t.Logf("random seed %d (replay with %s=%d)", seed, seedEnv, seed)
	return rand.New(rand.NewSource(seed))
}
