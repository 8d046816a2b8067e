# tflint for deploy/terraform (run by check.sh). Only the terraform ruleset bundled with tflint is
# used: it needs no plugin download, which cannot happen offline. The AWS ruleset (a separate plugin
# download) is therefore not used; terraform validate against the provider schema covers arguments.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

rule "terraform_documented_variables" {
  enabled = true
}

rule "terraform_documented_outputs" {
  enabled = true
}

rule "terraform_typed_variables" {
  enabled = true
}

rule "terraform_standard_module_structure" {
  enabled = true
}

rule "terraform_naming_convention" {
  enabled = true
}
