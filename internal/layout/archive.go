package layout

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Kinds of reference Parse knows.
const (
	// KindDir is oci:DIR[:TAG|@DIGEST], an OCI image layout directory.
	KindDir = "oci"
	// KindArchive is oci-archive:FILE[:TAG|@DIGEST], a tar of an OCI image layout.
	KindArchive = "oci-archive"
)

// Ref is a parsed layout reference.
type Ref struct {
	Kind string // KindDir or KindArchive
	Path string // the directory or the archive file
	Ref  string // a tag, a digest, or "" (none given)
}

// String is the reference as the CLI takes it.
func (r Ref) String() string {
	s := r.Kind + ":" + r.Path
	switch {
	case r.Ref == "":
	case strings.Contains(r.Ref, ":"):
		s += "@" + r.Ref
	default:
		s += ":" + r.Ref
	}
	return s
}

// Parse reads oci:PATH[:TAG|@DIGEST] or oci-archive:PATH[:TAG|@DIGEST] (skopeo's syntax). ok is
// false for anything else (a registry reference). A colon in PATH is read as the tag's start
// only when what follows it has no slash.
func Parse(s string) (r Ref, ok bool, err error) {
	kind, rest, found := strings.Cut(s, ":")
	if !found || kind != KindDir && kind != KindArchive {
		return Ref{}, false, nil
	}
	r.Kind = kind
	if p, d, found := strings.Cut(rest, "@"); found {
		rest, r.Ref = p, d
		if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
			return Ref{}, true, fmt.Errorf("%s: digest %q: want sha256:<64 hex digits>", s, d)
		}
	} else if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i+1:], "/") {
		rest, r.Ref = rest[:i], rest[i+1:]
		if r.Ref == "" {
			return Ref{}, true, fmt.Errorf("%s: empty tag after ':'", s)
		}
	}
	if rest == "" {
		return Ref{}, true, fmt.Errorf("%s: no path: want %s:PATH[:TAG]", s, kind)
	}
	r.Path = filepath.Clean(rest)
	return r, true, nil
}

// Extract unpacks the OCI layout archive file into dir (which must exist). Only regular files
// and directories are taken, and every name must stay inside dir; anything else is refused.
func Extract(file, dir string) error {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("OCI archive %s does not exist: %w", file, err)
	}
	if err != nil {
		return fmt.Errorf("opening OCI archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading OCI archive %s: %w", file, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("OCI archive %s: entry %q leaves the archive: refused", file, h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extracting %s from %s: %w", name, file, err)
			}
		default:
			return fmt.Errorf("OCI archive %s: entry %q is not a file or directory (type %q): refused", file, h.Name, h.Typeflag)
		}
	}
}

// WriteArchive writes the layout in dir as a tar to file: into a temporary file beside it,
// renamed over file when complete, so file is never half-written. oci-layout and index.json
// come first, then the blobs in name order.
func WriteArchive(dir, file string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	tw := tar.NewWriter(tmp)
	var names []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." || strings.HasPrefix(d.Name(), ".ecrsync-") {
			return nil
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	rank := func(n string) int {
		switch n {
		case "oci-layout":
			return 0
		case "index.json":
			return 1
		}
		return 2
	}
	sort.SliceStable(names, func(i, j int) bool {
		if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		if err := addFile(tw, dir, n); err != nil {
			return fmt.Errorf("writing OCI archive %s: %w", file, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	return nil
}

func addFile(tw *tar.Writer, dir, name string) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file or directory", p)
	}
	h := &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: fi.Size(), Format: tar.FormatPAX}
	if fi.IsDir() {
		h = &tar.Header{Name: name + "/", Mode: 0o755, Typeflag: tar.TypeDir, Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if fi.IsDir() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// OpenSource opens r for reading: a directory as it is, an archive unpacked into a new
// directory under tmp ("" means os.TempDir()). done removes what was unpacked.
func OpenSource(r Ref, tmp string) (l *Layout, done func(), err error) {
	if r.Kind == KindDir {
		l, err := Open(r.Path)
		return l, func() {}, err
	}
	dir, err := os.MkdirTemp(tmp, "ecrsync-oci-archive-*")
	if err != nil {
		return nil, nil, fmt.Errorf("unpacking OCI archive: %w", err)
	}
	done = func() { os.RemoveAll(dir) }
	if err := Extract(r.Path, dir); err != nil {
		done()
		return nil, nil, err
	}
	if l, err = Open(dir); err != nil {
		done()
		return nil, nil, fmt.Errorf("OCI archive %s: %w", r.Path, err)
	}
	l.name = KindArchive + ":" + r.Path
	return l, done, nil
}

// OpenDestination opens r for writing: a directory is opened or created (Create); an archive
// is built in a new directory under tmp (from the existing archive's content, if any), and
// finish(true) writes it over the archive file at once; finish(false) leaves the file as it
// was. finish removes the directory either way.
func OpenDestination(r Ref, tmp string) (l *Layout, finish func(ok bool) error, err error) {
	if r.Kind == KindDir {
		l, err := Create(r.Path)
		return l, func(bool) error { return nil }, err
	}
	dir, err := os.MkdirTemp(tmp, "ecrsync-oci-archive-*")
	if err != nil {
		return nil, nil, fmt.Errorf("building OCI archive: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	if _, err := os.Stat(r.Path); err == nil {
		if err := Extract(r.Path, dir); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	if l, err = Create(dir); err != nil {
		cleanup()
		return nil, nil, err
	}
	l.name = KindArchive + ":" + r.Path
	return l, func(ok bool) error {
		defer cleanup()
		if !ok {
			return nil
		}
		return WriteArchive(dir, r.Path)
	}, nil
}
