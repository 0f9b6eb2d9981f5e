"""Instance and container metadata as AWS SDKs and resource detectors read it.

One listener serves:
  * EC2 IMDSv2 under /latest/ (PUT /latest/api/token, then GETs with the token),
  * ECS task metadata v4 under --ecs-prefix (container, /task, /taskWithTags),
  * container credentials (ECS / EKS Pod Identity) at --creds-path.
With --k8s-port a second listener plays the EKS Kubernetes API (the two
ConfigMaps the EKS resource detectors read), over TLS with --k8s-tls-cert/-key.

    python metadata.py --port 0 [--k8s-port 0 ...] [--record FILE]

First stdout line: `LISTENING <port>` or `LISTENING <port> <k8s port>`.
See README.md for the options, records and control endpoints.
"""

import hashlib
import json
import secrets
import threading
import time
import uuid

import peer_http
from peer_http import GENERIC_MODES, HttpError, Peer, PeerServer, Response

TOKEN_PATH = "/latest/api/token"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TOKEN_TTL = 21600
STARTED = time.time()

DEFAULT_EC2 = {
    "account_id": "123456789012",
    "region": "us-west-2",
    "availability_zone": "us-west-2b",
    "instance_id": "i-0123456789abcdef0",
    "instance_type": "t3.micro",
    "ami_id": "ami-0abcdef1234567890",
    "architecture": "x86_64",
    "hostname": "ip-172-31-20-10.us-west-2.compute.internal",
    "local_hostname": "ip-172-31-20-10.us-west-2.compute.internal",
    "local_ipv4": "172.31.20.10",
    "mac": "0e:49:61:0f:c3:11",
    "role_name": "xray-test-role",
}

DEFAULT_ECS = {
    "launch_type": "FARGATE",
    "account_id": "123456789012",
    "region": "us-west-2",
    "availability_zone": "us-west-2b",
    "cluster": "xray-test-cluster",
    "service_name": "xray-test-service",
    "task_id": "5f3a0c1e9b7d4a2e8c6b0a9f1e2d3c4b",
    "family": "xray-test-task",
    "revision": "3",
    "container_name": "app",
    "image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/xray-test-app:latest",
    "log_group": "/ecs/xray-test-task",
    "ipv4": "172.31.30.40",
    "task_tags": {"team": "observability"},
}

DEFAULT_CREDENTIALS = {
    "AccessKeyId": "ASIAXRAYPEERTEST0001",
    "SecretAccessKey": "xrayPeerTestSecretAccessKey0000000000001",
    "Token": "xray-peer-test-session-token",
    "expires_in": 6 * 3600,
    "AccountId": None,
}

DEFAULT_K8S = {"cluster_name": "xray-test-eks", "eks": True}

AREAS = {
    "imds": GENERIC_MODES | {"expired"},
    "ecs": GENERIC_MODES,
    "creds": GENERIC_MODES | {"expired"},
    "k8s": GENERIC_MODES,
}


def iso8601(epoch, nanos=False):
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    if nanos:
        text += f".{int(epoch % 1 * 1e9):09d}"
    return text + "Z"


def _merge(current, update, what):
    if not isinstance(update, dict):
        raise HttpError(400, f"{what}: a JSON object")
    unknown = set(update) - set(current)
    if unknown:
        raise HttpError(400, f"{what}: unknown keys {sorted(unknown)}; known: {sorted(current)}")
    merged = dict(current)
    merged.update(update)
    return merged


def _load_overrides(path, defaults, what):
    if not path:
        return dict(defaults)
    with open(path, encoding="utf-8") as file:
        try:
            return _merge(defaults, json.load(file), what)
        except HttpError as err:
            raise ValueError(err.message) from None


class Metadata(Peer):
    areas = AREAS

    def __init__(self, args):
        super().__init__(args)
        self.ecs_prefix = args.ecs_prefix.rstrip("/")
        self.creds_path = args.creds_path
        self.container_auth = args.container_auth
        self.k8s_token = args.k8s_token
        self._state = threading.Lock()
        self._tokens = {}  # IMDSv2 token -> expiry (epoch seconds)
        self._ec2 = _load_overrides(args.ec2_json, DEFAULT_EC2, "--ec2-json")
        self._ecs = _load_overrides(args.ecs_json, DEFAULT_ECS, "--ecs-json")
        self._credentials = dict(DEFAULT_CREDENTIALS)
        self._k8s = dict(DEFAULT_K8S, cluster_name=args.k8s_cluster_name)

    def area_for(self, listener, path):
        if listener == "k8s":
            return "k8s"
        if path.startswith("/latest/") or path == "/latest":
            return "imds"
        if path == self.ecs_prefix or path.startswith(self.ecs_prefix + "/"):
            return "ecs"
        if path == self.creds_path:
            return "creds"
        return None

    def handle(self, request):
        area = self.area_for(request.listener, request.path)
        serve = {
            "imds": self._imds,
            "ecs": self._ecs_metadata,
            "creds": self._container_credentials,
            "k8s": self._k8s_api,
        }
        with self._state:
            return serve[area](request), {"area": area}

    # --- EC2 instance metadata (IMDSv2) ---

    def _imds(self, request):
        if request.path == TOKEN_PATH:
            if request.method != "PUT":
                return peer_http.text_response(405, "Method Not Allowed")
            ttl = request.headers.get(TOKEN_TTL_HEADER, "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TOKEN_TTL:
                return peer_http.text_response(400, "Bad Request")
            token = secrets.token_urlsafe(42)
            self._tokens[token] = time.time() + int(ttl)
            return Response(200, token.encode(), "text/plain", {TOKEN_TTL_HEADER: ttl})
        if request.method != "GET":
            return peer_http.text_response(405, "Method Not Allowed")
        expiry = self._tokens.get(request.headers.get(TOKEN_HEADER, ""))
        if expiry is None or expiry < time.time():
            return peer_http.text_response(401, "Unauthorized")
        node = self._imds_tree(expired=request.mode["mode"] == "expired")
        for part in request.path[len("/latest/") :].strip("/").split("/"):
            if not part:
                continue
            if not isinstance(node, dict) or part not in node:
                return peer_http.text_response(404, "Not Found")
            node = node[part]
        if isinstance(node, dict):
            node = "\n".join(key + "/" if isinstance(value, dict) else key for key, value in node.items())
        return peer_http.text_response(200, node)

    def _imds_tree(self, expired):
        ec2 = self._ec2
        identity = {
            "accountId": ec2["account_id"],
            "architecture": ec2["architecture"],
            "availabilityZone": ec2["availability_zone"],
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": ec2["ami_id"],
            "instanceId": ec2["instance_id"],
            "instanceType": ec2["instance_type"],
            "kernelId": None,
            "pendingTime": iso8601(STARTED),
            "privateIp": ec2["local_ipv4"],
            "ramdiskId": None,
            "region": ec2["region"],
            "version": "2017-09-30",
        }
        role_credentials = {
            "Code": "Success",
            "LastUpdated": iso8601(time.time()),
            "Type": "AWS-HMAC",
            **self._credential_fields(expired),
        }
        instance_profile = {
            "Code": "Success",
            "LastUpdated": iso8601(STARTED),
            "InstanceProfileArn": f"arn:aws:iam::{ec2['account_id']}:instance-profile/{ec2['role_name']}",
            "InstanceProfileId": "AIPAXRAYPEERTEST00001",
        }
        return {
            "dynamic": {"instance-identity": {"document": json.dumps(identity, indent=2)}},
            "meta-data": {
                "ami-id": ec2["ami_id"],
                "hostname": ec2["hostname"],
                "iam": {
                    "info": json.dumps(instance_profile, indent=2),
                    "security-credentials": {ec2["role_name"]: json.dumps(role_credentials, indent=2)},
                },
                "instance-id": ec2["instance_id"],
                "instance-type": ec2["instance_type"],
                "local-hostname": ec2["local_hostname"],
                "local-ipv4": ec2["local_ipv4"],
                "mac": ec2["mac"],
                "placement": {"availability-zone": ec2["availability_zone"], "region": ec2["region"]},
            },
        }

    def _credential_fields(self, expired):
        """Keys and an Expiration `expires_in` seconds after this request (or
        a minute ago in "expired" mode): each fetch gets a fresh lease."""
        credentials = self._credentials
        expiration = time.time() - 60 if expired else time.time() + credentials["expires_in"]
        return {
            "AccessKeyId": credentials["AccessKeyId"],
            "SecretAccessKey": credentials["SecretAccessKey"],
            "Token": credentials["Token"],
            "Expiration": iso8601(expiration),
        }

    # --- ECS task metadata v4 ---

    def _ecs_metadata(self, request):
        if request.method != "GET":
            return peer_http.json_response(405, {"message": "GET only"})
        rest = request.path[len(self.ecs_prefix) :].strip("/")
        if rest == "":
            return peer_http.json_response(200, self._ecs_container())
        if rest in ("task", "taskWithTags"):
            task = self._ecs_task()
            if rest == "taskWithTags":
                task["TaskTags"] = dict(self._ecs["task_tags"])
                if self._ecs["launch_type"] == "EC2":
                    task["ContainerInstanceTags"] = {"environment": "test"}
            return peer_http.json_response(200, task)
        return peer_http.json_response(404, {"message": f"no ECS metadata at {request.path}"})

    def _ecs_names(self):
        ecs = self._ecs
        arn = f"arn:aws:ecs:{ecs['region']}:{ecs['account_id']}"
        return {
            "cluster_arn": f"{arn}:cluster/{ecs['cluster']}",
            "task_arn": f"{arn}:task/{ecs['cluster']}/{ecs['task_id']}",
            "container_arn": f"{arn}:container/{uuid.uuid5(uuid.NAMESPACE_URL, ecs['task_id'])}",
        }

    def _ecs_container(self):
        ecs = self._ecs
        names = self._ecs_names()
        fargate = ecs["launch_type"] == "FARGATE"
        digest = hashlib.sha256(f"{ecs['task_id']}/{ecs['container_name']}".encode()).hexdigest()
        # Fargate names containers "<task id>-<number>" and keeps the plain
        # name; on EC2 Docker's own 64-hex id and generated name show through.
        if fargate:
            docker_id = f"{ecs['task_id']}-{int(digest[:8], 16) % 10**10:010d}"
            docker_name = ecs["container_name"]
        else:
            docker_id = digest
            docker_name = f"ecs-{ecs['family']}-{ecs['revision']}-{ecs['container_name']}-{digest[:20]}"
        ip_parts = ecs["ipv4"].split(".")
        subnet = ".".join(ip_parts[:3])
        network = {
            "NetworkMode": "awsvpc",
            "IPv4Addresses": [ecs["ipv4"]],
            "AttachmentIndex": 0,
            "MACAddress": "0a:1b:2c:3d:4e:5f",
            "IPv4SubnetCIDRBlock": f"{subnet}.0/24",
            "PrivateDNSName": f"ip-{'-'.join(ip_parts)}.{ecs['region']}.compute.internal",
            "SubnetGatewayIpv4Address": f"{subnet}.1/24",
        }
        if fargate:
            network["DomainNameServers"] = [f"{subnet}.2"]
            network["DomainNameSearchList"] = [f"{ecs['region']}.compute.internal"]
        container = {
            "DockerId": docker_id,
            "Name": ecs["container_name"],
            "DockerName": docker_name,
            "Image": ecs["image"],
            "ImageID": "sha256:" + hashlib.sha256(ecs["image"].encode()).hexdigest(),
            "Labels": {
                "com.amazonaws.ecs.cluster": names["cluster_arn"] if fargate else ecs["cluster"],
                "com.amazonaws.ecs.container-name": ecs["container_name"],
                "com.amazonaws.ecs.task-arn": names["task_arn"],
                "com.amazonaws.ecs.task-definition-family": ecs["family"],
                "com.amazonaws.ecs.task-definition-version": ecs["revision"],
            },
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "Limits": {"CPU": 2, "Memory": 512},
            "CreatedAt": iso8601(STARTED, nanos=True),
            "StartedAt": iso8601(STARTED + 0.4, nanos=True),
            "Type": "NORMAL",
            "LogDriver": "awslogs",
            "LogOptions": {
                "awslogs-create-group": "true",
                "awslogs-group": ecs["log_group"],
                "awslogs-region": ecs["region"],
                "awslogs-stream": f"ecs/{ecs['container_name']}/{ecs['task_id']}",
            },
            "ContainerARN": names["container_arn"],
            "Networks": [network],
        }
        if fargate:
            container["Snapshotter"] = "overlayfs"
        return container

    def _ecs_task(self):
        ecs = self._ecs
        names = self._ecs_names()
        fargate = ecs["launch_type"] == "FARGATE"
        task = {
            "Cluster": names["cluster_arn"] if fargate else ecs["cluster"],
            "TaskARN": names["task_arn"],
            "Family": ecs["family"],
            "Revision": ecs["revision"],
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
        }
        if ecs["service_name"]:
            task["ServiceName"] = ecs["service_name"]
        if fargate:
            task["Limits"] = {"CPU": 0.25, "Memory": 512}
        else:
            task["VPCID"] = "vpc-0123456789abcdef0"
        task.update(
            {
                "PullStartedAt": iso8601(STARTED - 5, nanos=True),
                "PullStoppedAt": iso8601(STARTED - 1, nanos=True),
                "AvailabilityZone": ecs["availability_zone"],
                "LaunchType": ecs["launch_type"],
                "Containers": [self._ecs_container()],
            }
        )
        if fargate:
            task["ClockDrift"] = {
                "ClockErrorBound": 0.5,
                "ReferenceTimestamp": iso8601(time.time() - 30),
                "ClockSynchronizationStatus": "SYNCHRONIZED",
            }
            task["EphemeralStorageMetrics"] = {"Utilized": 261, "Reserved": 20496}
        return task

    # --- container credentials (ECS, EKS Pod Identity) ---

    def _container_credentials(self, request):
        if request.method != "GET":
            return peer_http.json_response(405, {"message": "GET only"})
        if self.container_auth is not None and request.headers.get("Authorization") != self.container_auth:
            return peer_http.json_response(401, {"code": "AccessDenied", "message": "bad Authorization header"})
        fields = self._credential_fields(expired=request.mode["mode"] == "expired")
        fields["RoleArn"] = f"arn:aws:iam::{self._ec2['account_id']}:role/{self._ec2['role_name']}"
        if self._credentials["AccountId"]:
            fields["AccountId"] = self._credentials["AccountId"]
        return peer_http.json_response(200, fields)

    # --- EKS Kubernetes API ---

    def _k8s_api(self, request):
        if self.k8s_token is not None and request.headers.get("Authorization") != f"Bearer {self.k8s_token}":
            return _k8s_status(401, "Unauthorized", "Unauthorized")
        if request.method != "GET":
            return _k8s_status(405, "MethodNotAllowed", "GET only")
        if request.path == "/api/v1/namespaces/amazon-cloudwatch/configmaps/cluster-info":
            data = {"cluster.name": self._k8s["cluster_name"]}
            return _config_map("cluster-info", "amazon-cloudwatch", data)
        if request.path == "/api/v1/namespaces/kube-system/configmaps/aws-auth" and self._k8s["eks"]:
            role = f"arn:aws:iam::{self._ec2['account_id']}:role/xray-test-node-role"
            map_roles = f"- rolearn: {role}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
            return _config_map("aws-auth", "kube-system", {"mapRoles": map_roles})
        return _k8s_status(404, "NotFound", f"{request.path} not found")

    # --- control ---

    def control(self, name, request):
        settings = {"credentials": "_credentials", "ec2": "_ec2", "ecs": "_ecs", "k8s": "_k8s"}
        if name not in settings:
            return None
        if request.method != "POST":
            raise HttpError(405, f"POST /_control/{name}")
        with self._state:
            merged = _merge(getattr(self, settings[name]), request.json(), name)
            setattr(self, settings[name], merged)
            return peer_http.json_response(200, merged)


def _config_map(name, namespace, data):
    return peer_http.json_response(
        200,
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name))},
            "data": data,
        },
    )


def _k8s_status(code, reason, message):
    return peer_http.json_response(
        code,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
    )


def main():
    peer_http.block_stop_signals()
    parser = peer_http.argument_parser("EC2 IMDSv2, ECS task metadata v4, container credentials, EKS API")
    parser.add_argument("--ec2-json", metavar="FILE", help="overrides of the EC2 values (keys as in README)")
    parser.add_argument("--ecs-json", metavar="FILE", help="overrides of the ECS values (keys as in README)")
    parser.add_argument(
        "--ecs-prefix",
        default="/v4/5f3a0c1e9b7d4a2e8c6b0a9f1e2d3c4b-0123456789",
        help="path of ECS_CONTAINER_METADATA_URI_V4 on this server",
    )
    parser.add_argument("--creds-path", default="/creds", help="path of the container credentials")
    parser.add_argument("--container-auth", metavar="TOKEN", help="required Authorization header for credentials")
    parser.add_argument("--k8s-port", type=int, help="serve the Kubernetes API on this port (0: any free port)")
    parser.add_argument("--k8s-tls-cert", metavar="PEM", help="serve the Kubernetes API over TLS")
    parser.add_argument("--k8s-tls-key", metavar="PEM", help="private key of --k8s-tls-cert")
    parser.add_argument("--k8s-token", help="required bearer token of the Kubernetes API")
    parser.add_argument("--k8s-cluster-name", default=DEFAULT_K8S["cluster_name"], help="cluster.name in cluster-info")
    args = parser.parse_args()
    if bool(args.k8s_tls_cert) != bool(args.k8s_tls_key):
        parser.error("--k8s-tls-cert and --k8s-tls-key go together")
    if not args.ecs_prefix.startswith("/") or args.ecs_prefix.startswith("/latest"):
        parser.error("--ecs-prefix must be an absolute path outside /latest")
    try:
        peer = Metadata(args)
    except (OSError, ValueError) as err:
        parser.error(str(err))
    servers = [PeerServer(peer, "metadata", args.port)]
    if args.k8s_port is not None:
        tls_context = None
        if args.k8s_tls_cert:
            tls_context = peer_http.server_tls_context(args.k8s_tls_cert, args.k8s_tls_key)
        servers.append(PeerServer(peer, "k8s", args.k8s_port, tls_context))
    peer_http.serve_until_stopped(args, [server.port for server in servers], servers)


if __name__ == "__main__":
    main()
