# QEMU user networking: the guest is always 10.0.2.15, the gateway 10.0.2.2.
modprobe virtio_net 2>/dev/null
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
ip link set lo up
ip address replace 10.0.2.15/24 dev eth0
ip link set eth0 up
ip route replace default via 10.0.2.2 dev eth0
