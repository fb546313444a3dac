"""Sets up the moto S3 peer: exactly five unauthenticated IAM calls (moto then enforces IAM),
then a bucket made with the admin key. Prints the env lines the tests read."""
import json
import sys

import boto3

endpoint = sys.argv[1]
common = dict(endpoint_url=endpoint, region_name="us-east-1")
iam = boto3.client("iam", aws_access_key_id="AKIASETUP", aws_secret_access_key="setup", **common)
iam.create_user(UserName="gw-admin")
iam.put_user_policy(
    UserName="gw-admin",
    PolicyName="everything",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
)
admin = iam.create_access_key(UserName="gw-admin")["AccessKey"]
iam.create_user(UserName="gw-no-s3")
no_s3 = iam.create_access_key(UserName="gw-no-s3")["AccessKey"]

s3 = boto3.client("s3", aws_access_key_id=admin["AccessKeyId"], aws_secret_access_key=admin["SecretAccessKey"], **common)
s3.create_bucket(Bucket="gw-s3-test")

# Temporary credentials (an assumed role): moto checks their session token as AWS does.
admin_common = dict(aws_access_key_id=admin["AccessKeyId"], aws_secret_access_key=admin["SecretAccessKey"], **common)
admin_iam = boto3.client("iam", **admin_common)
admin_iam.create_role(
    RoleName="gw-reader",
    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}),
)
admin_iam.put_role_policy(
    RoleName="gw-reader",
    PolicyName="everything",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
)
# A user whose policy grants one prefix only (no s3:ListBucket): what customers give for an
# export folder.
admin_iam.create_user(UserName="gw-exports")
admin_iam.put_user_policy(
    UserName="gw-exports",
    PolicyName="exports-only",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": "arn:aws:s3:::gw-s3-test/exports/*"}]}),
)
exports = admin_iam.create_access_key(UserName="gw-exports")["AccessKey"]
temporary = boto3.client("sts", **admin_common).assume_role(
    RoleArn="arn:aws:iam::123456789012:role/gw-reader", RoleSessionName="gateway-tests", DurationSeconds=43200
)["Credentials"]

print(f"TEST_S3_ENDPOINT={endpoint}")
print("TEST_S3_BUCKET=gw-s3-test")
print(f"TEST_S3_KEY_ID={admin['AccessKeyId']}")
print(f"TEST_S3_SECRET={admin['SecretAccessKey']}")
print(f"TEST_S3_NO_S3_KEY_ID={no_s3['AccessKeyId']}")
print(f"TEST_S3_NO_S3_SECRET={no_s3['SecretAccessKey']}")
print(f"TEST_S3_PREFIX_KEY_ID={exports['AccessKeyId']}")
print(f"TEST_S3_PREFIX_SECRET={exports['SecretAccessKey']}")
print(f"TEST_S3_SESSION_KEY_ID={temporary['AccessKeyId']}")
print(f"TEST_S3_SESSION_SECRET={temporary['SecretAccessKey']}")
print(f"TEST_S3_SESSION_TOKEN={temporary['SessionToken']}")
