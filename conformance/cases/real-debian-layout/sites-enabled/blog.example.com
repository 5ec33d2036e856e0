server {
	listen 80;
	server_name blog.example.com;
	include snippets/security-headers.conf;

	location / {
		proxy_pass http://blog_backend;
		proxy_set_header Host $host;
		proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
	}
}
