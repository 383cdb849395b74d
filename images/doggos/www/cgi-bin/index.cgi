#!/bin/sh
# rando-doggos: "/" shows a random dog on every load (busybox httpd runs this
# CGI because /www has no index.html). Writes nothing anywhere: fine on a
# read-only root filesystem, as any uid.
DOGS=/www/dogs
dog=$(shuf -n 1 "$DOGS/dogs.txt")
first=$(printf '%s' "$dog" | cut -c1 | tr '[:lower:]' '[:upper:]')
Name="$first${dog#?}"
count=$(wc -l < "$DOGS/dogs.txt")
printf 'Content-Type: text/html; charset=utf-8\r\n'
printf 'Cache-Control: no-store\r\n'
printf 'X-Dog: %s\r\n\r\n' "$dog"
cat <<HTML
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rando-doggos: $Name</title>
<style>
  body { font-family: system-ui, sans-serif; background: #fffaf3; color: #2d2a32;
         display: flex; flex-direction: column; align-items: center; margin: 2rem; }
  h1 { margin: 0 0 1rem; }
  figure { margin: 0; text-align: center; }
  img { width: min(80vw, 360px); height: auto; }
  figcaption { font-size: 1.4rem; margin-top: .5rem; }
  a.again { margin-top: 1.5rem; padding: .6rem 1.2rem; border-radius: 999px;
            background: #2d2a32; color: #fff; text-decoration: none; }
  footer { margin-top: 2rem; font-size: .8rem; opacity: .6; }
</style>
</head>
<body>
<h1>rando-doggos</h1>
<figure data-dog="$dog">
  <img src="/dogs/$dog.svg" alt="$Name, a cartoon dog">
  <figcaption>This is <strong>$Name</strong>. Good dog.</figcaption>
</figure>
<a class="again" href="/">Another doggo!</a>
<footer>One of $count dogs, picked at random on every load.
Served by busybox httpd as uid $(id -u), read-only root filesystem.</footer>
</body>
</html>
HTML
