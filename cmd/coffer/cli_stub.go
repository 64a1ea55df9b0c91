package main

import "github.com/spf13/cobra"

// Stubs replaced by the CLI implementation.
func newSecretsCmd() *cobra.Command    { return &cobra.Command{Use: "secrets"} }
func newWorkspacesCmd() *cobra.Command { return &cobra.Command{Use: "workspaces"} }
