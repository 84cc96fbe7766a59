from busybox as base
run echo lower
Copy . /app
workdir /app
cmd ["sh"]
