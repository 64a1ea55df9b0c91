package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

// pageFlags are the paging flags of the list commands.
type pageFlags struct {
	page     int
	pageSize int
	allPages bool
}

func (p *pageFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&p.page, "page", 1, "page to show (with --all-pages: the first page to fetch)")
	cmd.Flags().IntVar(&p.pageSize, "page-size", 0, "items per page (default: the server's; 100 with --all-pages)")
	cmd.Flags().BoolVar(&p.allPages, "all-pages", false, "fetch every page and print all items")
}

// validate rejects what the server would answer with a 422, before any
// request; an absent --page-size (0) means the server's default.
func (p *pageFlags) validate(cmd *cobra.Command) error {
	if p.page < 1 {
		return usageError("--page must be at least 1")
	}
	if p.pageSize < 1 && cmd.Flags().Changed("page-size") {
		return usageError("--page-size must be at least 1")
	}
	return nil
}

// pageFetcher returns one page: its items, its pagination and the body as
// the server sent it.
type pageFetcher[T any] func(page, size int) ([]T, client.Pagination, []byte, error)

// listPages prints one page (and a hint on stderr when more follow) or,
// with --all-pages, walks the pages the way the reference SDK does and
// prints all items as one list.
func listPages[T any](cmd *cobra.Command, format outputFormat, p pageFlags, fetch pageFetcher[T],
	raw func(T) json.RawMessage, tbl func([]T) table) error {
	if err := p.validate(cmd); err != nil {
		return err
	}
	if !p.allPages {
		items, pg, body, err := fetch(p.page, p.pageSize)
		if err != nil {
			return failed(err)
		}
		if err := render(cmd.OutOrStdout(), format, body, tbl(items)); err != nil {
			return err
		}
		if pg.Page < pg.TotalPages {
			fmt.Fprintln(cmd.ErrOrStderr(), morePagesHint)
		}
		return nil
	}
	all, err := allPages(p, fetch)
	if err != nil {
		return failed(err)
	}
	raws := make([]json.RawMessage, len(all))
	for i, item := range all {
		raws[i] = raw(item)
	}
	return render(cmd.OutOrStdout(), format, jsonArray(raws), tbl(all))
}

// allPages stops at total_pages or at the first empty page, whichever comes
// first, so a collection that shrinks meanwhile cannot loop forever.
func allPages[T any](p pageFlags, fetch pageFetcher[T]) ([]T, error) {
	size := p.pageSize
	if size == 0 {
		size = defaultAllPagesSize
	}
	var all []T
	for page := p.page; ; page++ {
		items, pg, _, err := fetch(page, size)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) == 0 || page >= pg.TotalPages {
			return all, nil
		}
	}
}
