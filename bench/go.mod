module github.com/ecrsync/ecrsync/bench

go 1.26.8
