# Where the function package comes from: one input, package_source, picks the deploy path.
#   "file"    a zip on the machine running Terraform: `make lambda` (CLI-driven runs)
#   "s3"      an object in an S3 bucket in the function's Region (pipelines that build and upload)
#   "release" the zip inside this module, present when the module was fetched as the release archive
#             (source = ".../ecrsync-terraform-module-vX.Y.Z.tar.gz?checksum=sha256:..."): terraform
#             init downloads and verifies it in the run itself, so an HCP Terraform VCS run deploys
#             with nothing but the repository. Plan and apply each run init, so the file is there both
#             times; Terraform never has to hash or write binary bytes itself.
locals {
  release_package_file = "${path.module}/package/ecrsync-lambda-arm64.zip"
  release_package_here = fileexists(local.release_package_file)

  package_filename = (
    var.package_source == "file" ? var.package_file :
    var.package_source == "release" ? local.release_package_file : null
  )
  package_s3_bucket         = var.package_source == "s3" ? var.package_s3_bucket : null
  package_s3_key            = var.package_source == "s3" ? var.package_s3_key : null
  package_s3_object_version = var.package_source == "s3" ? var.package_s3_object_version : null
  package_hash = (
    var.package_source == "release" ? (local.release_package_here ? filebase64sha256(local.release_package_file) : null) :
    var.package_hash
  )

  package_ok = (
    var.package_source == "file" ? var.package_file != null && var.package_hash != null :
    var.package_source == "s3" ? var.package_s3_bucket != null && var.package_s3_key != null :
    local.release_package_here
  )
  package_error = (
    var.package_source == "file" ? (var.package_file == null ?
      "package_source = \"file\" needs package_file, the zip `make lambda` builds (dist/ecrsync-lambda-arm64.zip)." :
    "The function package ${var.package_file} is missing: run `make lambda` at the repository root first, or deploy a released version (package_source = \"release\", README).") :
    var.package_source == "s3" ? "package_source = \"s3\" needs package_s3_bucket and package_s3_key (an object in the function's Region, ${local.function_region})." :
    "package_source = \"release\" needs the module from the release archive, which holds package/ecrsync-lambda-arm64.zip; this copy of the module (${path.module}) has none. Use source = \"https://github.com/ecrsync/ecrsync/releases/download/vX.Y.Z/ecrsync-terraform-module-vX.Y.Z.tar.gz?checksum=sha256:...\" (README, \"Deploy a released version\"), or package_source = \"file\" with `make lambda`."
  )
}
