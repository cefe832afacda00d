# Built-in features only (terraform_data comes with Terraform): `terraform init` needs no download.
terraform {
  required_version = ">= 1.9" # the vm-agent module needs it
}
