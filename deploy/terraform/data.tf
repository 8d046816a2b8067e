# With package_source = "file" the function package is the zip `make lambda` builds at the
# repository root. No archive provider: the zip already holds `bootstrap`, and its hash makes
# Terraform deploy each new build. ("s3" and "release": README, one section each.)
locals {
  package_file = var.package_file != null ? var.package_file : "${path.root}/../../dist/ecrsync-lambda-arm64.zip"
  # null until `make lambda` has run: the module's precondition then says what to do, instead of a
  # file-not-found error from filebase64sha256.
  package_hash = var.package_source != "file" ? var.package_hash : (fileexists(local.package_file) ? filebase64sha256(local.package_file) : null)

  # The seed's one repository and one tag, plus the lists.
  repositories = distinct(concat(var.repo_name == null ? [] : [var.repo_name], var.repositories))
  image_tags   = distinct(concat(var.appenv == null ? [] : [var.appenv], var.image_tags))

  # The function runs in the source Region (see variables.tf, `region`).
  function_region = var.region != null ? var.region : var.source_region
}
