package replicate_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// Copy a multi-platform image between two registries, then again: the second copy finds it
// there and sends nothing.
func ExampleCopier_Copy() {
	ctx := context.Background()
	src, _ := devstack.Start(ctx, devstack.Options{})
	defer src.Close()
	dst, _ := devstack.Start(ctx, devstack.Options{})
	defer dst.Close()
	p := devstack.NewPusher()
	repo, _ := p.Repo(src.Addr + "/app")
	if _, err := p.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64"}, 4096, 1); err != nil {
		log.Fatal(err)
	}

	// Credentials would come from the Docker config; these registries need none.
	cp := replicate.New(registry.New(registry.Options{Keychain: devstack.Anonymous{}}), replicate.Options{})
	first, err := cp.Copy(ctx, src.Addr+"/app:v1", dst.Addr+"/mirror/app")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("first: %d manifests, %d blobs, up to date %v\n", first.Manifests, first.Blobs, first.UpToDate)
	second, err := cp.Copy(ctx, src.Addr+"/app:v1", dst.Addr+"/mirror/app")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("second: %d bytes sent, up to date %v, same digest %v\n", second.BytesSent, second.UpToDate, second.Digest == first.Digest)
	// Output:
	// first: 4 manifests, 7 blobs, up to date false
	// second: 0 bytes sent, up to date true, same digest true
}
