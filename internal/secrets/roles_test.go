package secrets

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestRoles(t *testing.T) {
	if got := strings.Join(AssignableRoles(), ", "); got != "Viewer, Editor, Admin, PlatformAdmin" {
		t.Errorf("assignable %q", got)
	}
	if IsAssignableRole(RoleServiceSystem) || IsAssignableRole("viewer") || !IsAssignableRole("Admin") {
		t.Error("IsAssignableRole")
	}
	admin := RolePermissions(RoleAdmin)
	for _, p := range []string{PermSecretsRead, PermSecretsDelete, PermMembersDelete} {
		if !slices.Contains(admin, p) {
			t.Errorf("Admin lacks %s", p)
		}
	}
	if slices.Contains(admin, PermSecretsAccess) || slices.Contains(admin, PermSecretsRotate) {
		t.Error("Admin holds access or rotate")
	}
	// The audit trail (docs/operations.md): Admin and PlatformAdmin read it.
	if !slices.Contains(admin, PermAuditRead) || !RoleGrants(RolePlatformAdmin, PermAuditRead) ||
		RoleGrants(RoleEditor, PermAuditRead) || RoleGrants(RoleViewer, PermAuditRead) {
		t.Error("audit.read held by the wrong roles")
	}
	if !RoleGrants(RoleServiceSystem, PermSecretsAccess) || RoleGrants("Owner", PermSecretsRead) || RolePermissions("Owner") != nil {
		t.Error("RoleGrants")
	}
	if !AnyRoleGrants([]string{"Owner", RoleEditor}, PermSecretsList) || AnyRoleGrants([]string{RoleViewer}, PermSecretsUpdate) {
		t.Error("AnyRoleGrants")
	}
	// Callers get copies: changing them grants nothing.
	RolePermissions(RoleViewer)[0] = PermSecretsRotate
	Roles()[0].Permissions[0] = PermSecretsRotate
	if RoleGrants(RoleViewer, PermSecretsRotate) {
		t.Error("a caller widened Viewer")
	}
}

// TestDocsRoleTable: the table of docs/auth.md "Roles" is the role table,
// row for row; a failure prints the line to write.
func TestDocsRoleTable(t *testing.T) {
	b, err := os.ReadFile("../../docs/auth.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Roles\n")
	if !ok {
		t.Fatal(`docs/auth.md has no "## Roles"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var got []string
	for line := range strings.Lines(section) {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "| `") {
			got = append(got, line)
		}
	}
	code := func(s string) string { return "`" + s + "`" }
	var want []string
	for _, r := range Roles() {
		includes := "–"
		if r.Includes != "" {
			includes = code(r.Includes)
		}
		perms := make([]string, len(r.Permissions))
		for i, p := range r.Permissions {
			perms[i] = code(p)
		}
		want = append(want, "| "+code(r.Name)+" | "+includes+" | "+strings.Join(perms, ", ")+" |")
	}
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("docs/auth.md lacks role row %d:\n%s", i+1, want[i])
		case i >= len(want):
			t.Errorf("docs/auth.md role row %d names no role:\n%s", i+1, got[i])
		case got[i] != want[i]:
			t.Errorf("docs/auth.md role row %d:\n%s\nwant\n%s", i+1, got[i], want[i])
		}
	}
}
